//! A user as it is registered, changed, stored and shown, and the
//! constructors that hold a registration or an update to the contract's
//! rules.

use super::validation::*;
use super::{ImAccount, UserId};
use serde::Serialize;
use std::collections::BTreeMap;

/// Free-form string pairs a client keeps on a user (`extends`).
pub type Extends = BTreeMap<String, String>;

/// `extends` as an input gave it: each key with its value, which must be
/// text. A repeated key keeps its last value.
pub type GivenExtends = Vec<(String, Given<String>)>;

/// A user's fields as an input gave them (a request body, a row of the
/// original service's table), before [`NewUser::new`] or
/// [`UserChanges::new`] checks them.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct GivenUser {
    pub user_id: Given<String>,
    pub nick: Given<String>,
    pub avatar: Given<String>,
    pub extends: Given<GivenExtends>,
}

/// A valid registration: the body of a single register, one element of a
/// batch, or an imported user.
#[derive(Clone, Debug, PartialEq)]
pub struct NewUser {
    pub user_id: UserId,
    pub nick: String,
    pub avatar: String,
    pub extends: Extends,
}

/// A valid partial update. `None` leaves a field as it is; `extends` keys
/// are merged into the stored map (given keys overwrite, others stay).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct UserChanges {
    pub nick: Option<String>,
    pub avatar: Option<String>,
    pub extends: Extends,
}

impl NewUser {
    /// A registration: `user_id` is required, the other fields may be left
    /// out (empty). Every broken rule is named, in the order of the fields.
    pub fn new(given: GivenUser) -> Result<NewUser, Violations> {
        let mut checks = Checks::default();
        let user_id = match given.user_id {
            Given::Absent => {
                checks.fail(Field::UserId, Rule::Required);
                String::new()
            }
            Given::WrongKind => {
                checks.fail(Field::UserId, Rule::NotAString);
                String::new()
            }
            Given::Value(id) => {
                UserId::check(&mut checks, &id, Field::UserId);
                id
            }
        };
        let nick = checks.optional_text(given.nick, Field::Nick).unwrap_or_default();
        checks.length(&nick, || Field::Nick, 0, MAX_NICK_CHARS);
        let avatar = checks.optional_text(given.avatar, Field::Avatar).unwrap_or_default();
        checks.length(&avatar, || Field::Avatar, 0, MAX_AVATAR_CHARS);
        let extends = checked_extends(&mut checks, given.extends);
        checks.finish(NewUser {
            user_id: UserId(user_id),
            nick,
            avatar,
            extends,
        })
    }
}

impl UserChanges {
    /// An update of the user `of`. A `user_id` must be left out or be
    /// that same id: ids never change. An empty nick or avatar means
    /// "unchanged", as in the original service.
    pub fn new(given: GivenUser, of: &UserId) -> Result<UserChanges, Violations> {
        let mut checks = Checks::default();
        match checks.optional_text(given.user_id, Field::UserId) {
            Some(id) if id != of.as_str() => checks.fail(Field::UserId, Rule::Unchangeable),
            _ => {}
        }
        // Every field's kind before any length, as the original service
        // decoded the whole body before checking it.
        let nick = checks.optional_text(given.nick, Field::Nick).filter(|s| !s.is_empty());
        let avatar = checks
            .optional_text(given.avatar, Field::Avatar)
            .filter(|s| !s.is_empty());
        if let Some(nick) = &nick {
            checks.length(nick, || Field::Nick, 0, MAX_NICK_CHARS);
        }
        if let Some(avatar) = &avatar {
            checks.length(avatar, || Field::Avatar, 0, MAX_AVATAR_CHARS);
        }
        let extends = checked_extends(&mut checks, given.extends);
        checks.finish(UserChanges { nick, avatar, extends })
    }
}

/// At most [`MAX_EXTENDS_ENTRIES`] entries; each key 1..=64 characters,
/// each value text of 0..=1024. Left out is empty.
fn checked_extends(checks: &mut Checks, given: Given<GivenExtends>) -> Extends {
    let entries = match given {
        Given::Absent => return Extends::new(),
        Given::WrongKind => {
            checks.fail(Field::Extends, Rule::NotAnObjectOfStrings);
            return Extends::new();
        }
        Given::Value(entries) => entries,
    };
    if entries.len() > MAX_EXTENDS_ENTRIES {
        checks.fail(
            Field::Extends,
            Rule::TooManyEntries {
                max: MAX_EXTENDS_ENTRIES,
                got: entries.len(),
            },
        );
    }
    let mut extends = Extends::new();
    for (key, value) in entries {
        checks.length(&key, || Field::ExtendsKey(key.clone()), 1, MAX_EXTENDS_KEY_CHARS);
        let Given::Value(value) = value else {
            checks.fail(Field::ExtendsValue(key), Rule::NotAString);
            continue;
        };
        checks.length(&value, || Field::ExtendsValue(key.clone()), 0, MAX_EXTENDS_VALUE_CHARS);
        extends.insert(key, value);
    }
    extends
}

/// A stored user with its IM account.
#[derive(Clone, Debug, PartialEq)]
pub struct User {
    pub user_id: UserId,
    pub nick: String,
    pub avatar: String,
    pub extends: Extends,
    pub im: ImAccount,
}

/// The `info` view: everything but the IM login. Fields in the order the
/// original document shows them.
#[derive(Serialize)]
pub struct UserInfo<'a> {
    pub user_id: &'a str,
    pub nick: &'a str,
    pub avatar: &'a str,
    pub im_userid: i64,
    pub extends: &'a Extends,
}

/// The `profile` view: info plus the IM login.
#[derive(Serialize)]
pub struct UserProfile<'a> {
    pub user_id: &'a str,
    pub nick: &'a str,
    pub avatar: &'a str,
    pub im_userid: i64,
    pub im_username: &'a str,
    pub im_password: &'a str,
    pub extends: &'a Extends,
}

impl User {
    pub fn info(&self) -> UserInfo<'_> {
        UserInfo {
            user_id: self.user_id.as_str(),
            nick: &self.nick,
            avatar: &self.avatar,
            im_userid: self.im.im_userid,
            extends: &self.extends,
        }
    }

    /// The length of [`Self::info`] as compact JSON, counted without
    /// building the text. The profile view only adds to it, so this is a
    /// lower bound on the size of either view.
    pub fn info_json_len(&self) -> usize {
        json_len(&self.info())
    }

    /// An IM account that is still pending shows `im_userid` 0 and empty
    /// credentials, as the original service showed one whose IM
    /// registration failed: a client is never handed a login that does
    /// not work yet.
    pub fn profile(&self) -> UserProfile<'_> {
        let (im_username, im_password) = if self.im.is_pending() {
            ("", "")
        } else {
            (self.im.im_username.as_str(), self.im.im_password.as_str())
        };
        UserProfile {
            user_id: self.user_id.as_str(),
            nick: &self.nick,
            avatar: &self.avatar,
            im_userid: self.im.im_userid,
            im_username,
            im_password,
            extends: &self.extends,
        }
    }
}

/// The length of `value` serialized by `serde_json`. The views serialize
/// strings, numbers and string maps only, which cannot fail; a failure
/// would count as unbounded.
fn json_len(value: &impl Serialize) -> usize {
    struct Counter(usize);
    impl std::io::Write for Counter {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0 += bytes.len();
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut counter = Counter(0);
    match serde_json::to_writer(&mut counter, value) {
        Ok(()) => counter.0,
        Err(_) => usize::MAX,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(s: &str) -> Given<String> {
        Given::Value(s.into())
    }

    fn entries(pairs: &[(&str, Given<String>)]) -> Given<GivenExtends> {
        Given::Value(pairs.iter().map(|(k, v)| (k.to_string(), v.clone())).collect())
    }

    fn broken<T: std::fmt::Debug>(result: Result<T, Violations>) -> Vec<String> {
        result.unwrap_err().iter().map(ToString::to_string).collect()
    }

    fn id(s: &str) -> UserId {
        UserId::parse(s.into(), Field::UserId).unwrap()
    }

    #[test]
    fn a_registration_takes_the_given_values_and_leaves_the_rest_empty() {
        let user = NewUser::new(GivenUser {
            user_id: text("用户"),
            avatar: text("a"),
            extends: entries(&[("k", text("first")), ("j", text("")), ("k", text("last"))]),
            ..GivenUser::default()
        })
        .unwrap();
        assert_eq!(
            user,
            NewUser {
                user_id: id("用户"),
                nick: String::new(),
                avatar: "a".into(),
                extends: Extends::from([("j".into(), String::new()), ("k".into(), "last".into())]),
            }
        );
    }

    #[test]
    fn a_registration_names_every_broken_rule_in_the_order_of_the_fields() {
        let result = NewUser::new(GivenUser {
            user_id: Given::Absent,
            nick: Given::WrongKind,
            avatar: text(&"a".repeat(1025)),
            extends: entries(&[
                ("", text("v")),
                ("k", Given::WrongKind),
                ("l", Given::Absent),
                ("m", text(&"v".repeat(1025))),
                (&"k".repeat(65), text("")),
            ]),
        });
        assert_eq!(
            broken(result),
            [
                "user_id: required".to_owned(),
                "nick: must be a string".to_owned(),
                "avatar: at most 1024 characters, got 1025".to_owned(),
                "extends key \"\": must not be empty".to_owned(),
                "extends.k: must be a string".to_owned(),
                "extends.l: must be a string".to_owned(),
                "extends.m: at most 1024 characters, got 1025".to_owned(),
                format!("extends key {:?}: at most 64 characters, got 65", "k".repeat(65)),
            ]
        );
    }

    #[test]
    fn a_registration_checks_the_id_and_the_kind_of_extends() {
        let user = |user_id, extends| {
            NewUser::new(GivenUser {
                user_id,
                extends,
                ..GivenUser::default()
            })
        };
        assert_eq!(
            broken(user(Given::WrongKind, Given::Absent)),
            ["user_id: must be a string"]
        );
        assert_eq!(
            broken(user(text(&format!("{}\n", "u".repeat(64))), Given::WrongKind)),
            [
                "user_id: at most 64 characters, got 65",
                "user_id: must not contain control characters",
                "extends: must be an object of string values"
            ]
        );
        assert_eq!(broken(user(text(""), Given::Absent)), ["user_id: must not be empty"]);
    }

    #[test]
    fn limits_are_inclusive_and_extends_holds_at_most_64_entries() {
        let most: GivenExtends = (0..64)
            .map(|i| (format!("{i:k>64}"), text(&"値".repeat(1024))))
            .collect();
        let user = NewUser::new(GivenUser {
            user_id: text(&"用".repeat(64)),
            nick: text(&"n".repeat(64)),
            avatar: text(&"a".repeat(1024)),
            extends: Given::Value(most.clone()),
        })
        .unwrap();
        assert_eq!(user.extends.len(), 64);
        let mut many = most;
        many.push(("one more".into(), text("v")));
        let result = NewUser::new(GivenUser {
            user_id: text("u"),
            nick: text(&"n".repeat(65)),
            extends: Given::Value(many),
            ..GivenUser::default()
        });
        assert_eq!(
            broken(result),
            [
                "nick: at most 64 characters, got 65",
                "extends: at most 64 entries, got 65"
            ]
        );
    }

    #[test]
    fn an_update_changes_only_what_is_given_and_never_the_id() {
        let changes = UserChanges::new(
            GivenUser {
                user_id: text("u"),
                nick: text(""),
                avatar: text("b"),
                extends: entries(&[("k", text("v"))]),
            },
            &id("u"),
        )
        .unwrap();
        assert_eq!(
            changes,
            UserChanges {
                nick: None,
                avatar: Some("b".into()),
                extends: Extends::from([("k".into(), "v".into())]),
            }
        );
        assert_eq!(
            UserChanges::new(GivenUser::default(), &id("u")),
            Ok(UserChanges::default())
        );
        let other_id = |user_id| {
            UserChanges::new(
                GivenUser {
                    user_id,
                    ..GivenUser::default()
                },
                &id("u"),
            )
        };
        assert_eq!(
            broken(other_id(text("v"))),
            ["user_id: cannot be changed; leave it out of the body"]
        );
        assert_eq!(
            broken(other_id(text(""))),
            ["user_id: cannot be changed; leave it out of the body"]
        );
        assert_eq!(broken(other_id(Given::WrongKind)), ["user_id: must be a string"]);
    }

    #[test]
    fn an_update_checks_every_kind_before_any_length() {
        let result = UserChanges::new(
            GivenUser {
                nick: text(&"n".repeat(65)),
                avatar: Given::WrongKind,
                extends: entries(&[("k", Given::WrongKind)]),
                ..GivenUser::default()
            },
            &id("u"),
        );
        assert_eq!(
            broken(result),
            [
                "avatar: must be a string",
                "nick: at most 64 characters, got 65",
                "extends.k: must be a string"
            ]
        );
        let result = UserChanges::new(
            GivenUser {
                nick: Given::WrongKind,
                avatar: text(&"a".repeat(1025)),
                ..GivenUser::default()
            },
            &id("u"),
        );
        assert_eq!(
            broken(result),
            ["nick: must be a string", "avatar: at most 1024 characters, got 1025"]
        );
        let at_the_limits = UserChanges::new(
            GivenUser {
                nick: text(&"n".repeat(64)),
                avatar: text(&"a".repeat(1024)),
                ..GivenUser::default()
            },
            &id("u"),
        );
        assert!(at_the_limits.is_ok());
    }

    fn user(im_userid: i64) -> User {
        User {
            user_id: UserId::parse("u".into(), "user_id").unwrap(),
            nick: "n".into(),
            avatar: String::new(),
            extends: Extends::new(),
            im: ImAccount {
                im_userid,
                im_username: "qlu".into(),
                im_password: "secret-password-24-chars".into(),
            },
        }
    }

    #[test]
    fn a_profile_shows_the_im_login_and_info_does_not() {
        let user = user(42);
        let profile = serde_json::to_value(user.profile()).unwrap();
        assert_eq!(
            (profile["im_userid"].as_i64(), profile["im_username"].as_str()),
            (Some(42), Some("qlu"))
        );
        assert_eq!(profile["im_password"], "secret-password-24-chars");
        let info = serde_json::to_value(user.info()).unwrap();
        assert!(info.get("im_password").is_none() && info.get("im_username").is_none());
    }

    #[test]
    fn a_pending_im_account_is_shown_without_credentials() {
        let profile = serde_json::to_value(user(0).profile()).unwrap();
        assert_eq!(profile["im_userid"], 0);
        assert_eq!(
            (profile["im_username"].as_str(), profile["im_password"].as_str()),
            (Some(""), Some(""))
        );
    }

    #[test]
    fn the_info_json_length_is_that_of_the_text_the_info_view_becomes() {
        let mut user = user(7);
        user.nick = "用户\u{1}\"".into();
        user.extends = Extends::from([("k".into(), "v\n".into())]);
        let text = serde_json::to_string(&user.info()).unwrap();
        assert_eq!(user.info_json_len(), text.len());
        assert!(user.info_json_len() < serde_json::to_string(&user.profile()).unwrap().len());
    }
}
