//! A user as it is registered, changed, stored and shown.

use super::{ImAccount, UserId};
use serde::Serialize;
use std::collections::BTreeMap;

/// Free-form string pairs a client keeps on a user (`extends`).
pub type Extends = BTreeMap<String, String>;

/// A valid registration: the body of a single register, or one element of
/// a batch.
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
