//! Users as the API sees them: input parsed and validated once into types
//! that cannot hold a bad value, and the two views (info, profile) sent back.
//!
//! Validation errors name the field and say why, e.g.
//! `users[3].extends: at most 64 entries`.

use crate::im::ImAccount;
use serde::Serialize;
use serde_json::{Map, Value};
use std::collections::{BTreeMap, HashSet};

pub const MAX_USER_ID_CHARS: usize = 64;
pub const MAX_NICK_CHARS: usize = 64;
pub const MAX_AVATAR_CHARS: usize = 1024;
pub const MAX_EXTENDS_ENTRIES: usize = 64;
pub const MAX_EXTENDS_KEY_CHARS: usize = 64;
pub const MAX_EXTENDS_VALUE_CHARS: usize = 1024;
pub const MAX_USERS_PER_BATCH: usize = 200;
pub const MAX_IDS_PER_BATCH_GET: usize = 200;

/// A client's user id: 1..=64 characters, none of them a control character.
/// Other text fields only have length limits, as in the contract: clients of
/// the original service may store any text in them.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct UserId(String);

impl UserId {
    /// `field` names the value in the error (`user_id`, `user_ids[2]`, ...).
    pub fn parse(value: String, field: &str) -> Result<Self, String> {
        check_length(&value, field, 1, MAX_USER_ID_CHARS)?;
        // Ids end up in keys, paths, IM usernames and logs.
        if value.chars().any(char::is_control) {
            return Err(format!("{field}: must not contain control characters"));
        }
        Ok(UserId(value))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for UserId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

pub type Extends = BTreeMap<String, String>;

/// A valid registration: `POST /server/user/register` and each element of
/// a batch.
#[derive(Clone, Debug, PartialEq)]
pub struct NewUser {
    pub user_id: UserId,
    pub nick: String,
    pub avatar: String,
    pub extends: Extends,
}

/// A valid partial update: `PUT /server/user/{user_id}`. `None` leaves a
/// field unchanged; `extends` keys are merged into the stored map.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct UserChanges {
    pub nick: Option<String>,
    pub avatar: Option<String>,
    pub extends: Extends,
}

/// A stored user with its IM account.
#[derive(Clone, Debug, PartialEq)]
pub struct User {
    pub user_id: String,
    pub nick: String,
    pub avatar: String,
    pub extends: Extends,
    pub im: ImAccount,
}

/// The `info` view: everything but the IM credentials.
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
            user_id: &self.user_id,
            nick: &self.nick,
            avatar: &self.avatar,
            im_userid: self.im.im_userid,
            extends: &self.extends,
        }
    }

    pub fn profile(&self) -> UserProfile<'_> {
        UserProfile {
            user_id: &self.user_id,
            nick: &self.nick,
            avatar: &self.avatar,
            im_userid: self.im.im_userid,
            im_username: &self.im.im_username,
            im_password: &self.im.im_password,
            extends: &self.extends,
        }
    }
}

/// Parses the body of a single register.
pub fn parse_new_user(body: &[u8]) -> Result<NewUser, String> {
    let value = parse_json(body)?;
    new_user_from(&value, "")
}

/// Parses the body of a batch register: a JSON array of 1..=200 users.
pub fn parse_new_users(body: &[u8]) -> Result<Vec<NewUser>, String> {
    let Value::Array(items) = parse_json(body)? else {
        return Err("body: must be a JSON array of users".into());
    };
    if items.is_empty() {
        return Err("body: the array of users is empty".into());
    }
    if items.len() > MAX_USERS_PER_BATCH {
        return Err(format!(
            "body: at most {MAX_USERS_PER_BATCH} users per request, got {}",
            items.len()
        ));
    }
    items
        .iter()
        .enumerate()
        .map(|(index, item)| new_user_from(item, &format!("users[{index}].")))
        .collect()
}

/// Parses the body of an update. `path_user_id` is the user being updated: a
/// `user_id` in the body must be absent or the same, since ids never change.
pub fn parse_user_changes(body: &[u8], path_user_id: &UserId) -> Result<UserChanges, String> {
    let value = parse_json(body)?;
    let object = as_object(&value, "body")?;
    if let Some(user_id) = optional_string(object, "user_id", "")? {
        if user_id != path_user_id.as_str() {
            return Err("user_id: cannot be changed; leave it out of the body".into());
        }
    }
    // An empty nick or avatar means "unchanged", as in the original service.
    let nick = optional_string(object, "nick", "")?.filter(|s| !s.is_empty());
    let avatar = optional_string(object, "avatar", "")?.filter(|s| !s.is_empty());
    if let Some(nick) = &nick {
        check_length(nick, "nick", 0, MAX_NICK_CHARS)?;
    }
    if let Some(avatar) = &avatar {
        check_length(avatar, "avatar", 0, MAX_AVATAR_CHARS)?;
    }
    let extends = extends_from(object, "")?;
    Ok(UserChanges { nick, avatar, extends })
}

/// Reads the ids of a batch get: the repeated query key
/// `user_ids=a&user_ids=b` (as the original server reads them) or, when the
/// query has none, a JSON array body `["a","b"]` (as the document shows).
/// Returns 1..=200 ids in request order with repeats removed.
pub fn parse_user_ids(query: Option<&str>, body: &[u8]) -> Result<Vec<UserId>, String> {
    let from_query: Vec<String> = form_urlencoded::parse(query.unwrap_or("").as_bytes())
        .filter(|(key, _)| key == "user_ids")
        .map(|(_, value)| value.into_owned())
        .collect();

    // (field name for errors, value)
    let raw: Vec<(String, String)> = if !from_query.is_empty() {
        from_query
            .into_iter()
            .enumerate()
            .map(|(i, value)| (format!("user_ids[{i}]"), value))
            .collect()
    } else if !body.iter().all(u8::is_ascii_whitespace) {
        let Value::Array(items) = parse_json(body)? else {
            return Err("body: must be a JSON array of user ids".into());
        };
        items
            .into_iter()
            .enumerate()
            .map(|(i, item)| match item {
                Value::String(s) => Ok((format!("user_ids[{i}]"), s)),
                _ => Err(format!("user_ids[{i}]: must be a string")),
            })
            .collect::<Result<_, _>>()?
    } else {
        Vec::new()
    };

    if raw.is_empty() {
        return Err("user_ids: give at least one, as user_ids=a&user_ids=b".into());
    }
    if raw.len() > MAX_IDS_PER_BATCH_GET {
        return Err(format!(
            "user_ids: at most {MAX_IDS_PER_BATCH_GET} per request, got {}",
            raw.len()
        ));
    }
    let mut seen = HashSet::with_capacity(raw.len());
    let mut ids = Vec::with_capacity(raw.len());
    for (field, value) in raw {
        let id = UserId::parse(value, &field)?;
        if seen.insert(id.clone()) {
            ids.push(id);
        }
    }
    Ok(ids)
}

fn parse_json(body: &[u8]) -> Result<Value, String> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err("body: empty; send a JSON document".into());
    }
    serde_json::from_slice(body).map_err(|e| format!("body: malformed JSON ({e})"))
}

fn as_object<'a>(value: &'a Value, field: &str) -> Result<&'a Map<String, Value>, String> {
    value
        .as_object()
        .ok_or_else(|| format!("{field}: must be a JSON object"))
}

fn new_user_from(value: &Value, at: &str) -> Result<NewUser, String> {
    let object = as_object(
        value,
        if at.is_empty() {
            "body"
        } else {
            at.trim_end_matches('.')
        },
    )?;
    let user_id = optional_string(object, "user_id", at)?.ok_or_else(|| format!("{at}user_id: required"))?;
    let user_id = UserId::parse(user_id, &format!("{at}user_id"))?;
    let nick = optional_string(object, "nick", at)?.unwrap_or_default();
    check_length(&nick, &format!("{at}nick"), 0, MAX_NICK_CHARS)?;
    let avatar = optional_string(object, "avatar", at)?.unwrap_or_default();
    check_length(&avatar, &format!("{at}avatar"), 0, MAX_AVATAR_CHARS)?;
    let extends = extends_from(object, at)?;
    Ok(NewUser {
        user_id,
        nick,
        avatar,
        extends,
    })
}

/// A string field that may be absent or `null` (Go's zero value).
fn optional_string(object: &Map<String, Value>, name: &str, at: &str) -> Result<Option<String>, String> {
    match object.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(format!("{at}{name}: must be a string")),
    }
}

fn extends_from(object: &Map<String, Value>, at: &str) -> Result<Extends, String> {
    let entries = match object.get("extends") {
        None | Some(Value::Null) => return Ok(Extends::new()),
        Some(Value::Object(entries)) => entries,
        Some(_) => return Err(format!("{at}extends: must be an object of string values")),
    };
    if entries.len() > MAX_EXTENDS_ENTRIES {
        return Err(format!(
            "{at}extends: at most {MAX_EXTENDS_ENTRIES} entries, got {}",
            entries.len()
        ));
    }
    entries
        .iter()
        .map(|(key, value)| {
            check_length(key, &format!("{at}extends key {key:?}"), 1, MAX_EXTENDS_KEY_CHARS)?;
            let Value::String(value) = value else {
                return Err(format!("{at}extends.{key}: must be a string"));
            };
            check_length(value, &format!("{at}extends.{key}"), 0, MAX_EXTENDS_VALUE_CHARS)?;
            Ok((key.clone(), value.clone()))
        })
        .collect()
}

/// Length in characters (not bytes) within `min..=max`.
fn check_length(value: &str, field: &str, min: usize, max: usize) -> Result<(), String> {
    let chars = value.chars().count();
    if chars < min {
        return Err(format!("{field}: must not be empty"));
    }
    if chars > max {
        return Err(format!("{field}: at most {max} characters, got {chars}"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(s: &str) -> UserId {
        UserId::parse(s.into(), "user_id").unwrap()
    }

    #[test]
    fn a_full_user_parses() {
        let user = parse_new_user(br#"{"user_id":"u1","nick":"N","avatar":"a","extends":{"age":"18"},"x":1}"#).unwrap();
        assert_eq!(user.user_id, id("u1"));
        assert_eq!(user.extends.get("age").map(String::as_str), Some("18"));
    }

    #[test]
    fn null_optional_fields_are_absent() {
        let user = parse_new_user(br#"{"user_id":"u1","nick":null,"extends":null}"#).unwrap();
        assert_eq!((user.nick.as_str(), user.extends.len()), ("", 0));
    }

    #[test]
    fn errors_name_the_field() {
        let cases: [(&[u8], &str); 9] = [
            (b"{", "body: malformed JSON"),
            (b"", "body: empty"),
            (b"[]", "body: must be a JSON object"),
            (br#"{"nick":"n"}"#, "user_id: required"),
            (br#"{"user_id":""}"#, "user_id: must not be empty"),
            (br#"{"user_id":5}"#, "user_id: must be a string"),
            (
                br#"{"user_id":"a\u0007b"}"#,
                "user_id: must not contain control characters",
            ),
            (br#"{"user_id":"u","extends":{"k":1}}"#, "extends.k: must be a string"),
            (br#"{"user_id":"u","extends":[]}"#, "extends: must be an object"),
        ];
        for (body, expected) in cases {
            let err = parse_new_user(body).unwrap_err();
            assert!(err.starts_with(expected), "{err:?} should start with {expected:?}");
        }
    }

    #[test]
    fn limits_count_characters_not_bytes() {
        let ok = format!(r#"{{"user_id":"{}"}}"#, "用".repeat(64));
        assert!(parse_new_user(ok.as_bytes()).is_ok());
        let long = format!(r#"{{"user_id":"{}"}}"#, "用".repeat(65));
        assert!(parse_new_user(long.as_bytes()).unwrap_err().contains("at most 64"));
    }

    #[test]
    fn batch_errors_carry_the_index() {
        let err = parse_new_users(br#"[{"user_id":"a"},{"user_id":""}]"#).unwrap_err();
        assert!(err.starts_with("users[1].user_id"), "{err}");
        assert!(parse_new_users(b"[]").unwrap_err().contains("empty"));
    }

    #[test]
    fn update_ignores_empty_strings_and_refuses_a_different_id() {
        let changes = parse_user_changes(br#"{"nick":"","avatar":"b","extends":{"k":"v"}}"#, &id("u")).unwrap();
        assert_eq!(changes.nick, None);
        assert_eq!(changes.avatar.as_deref(), Some("b"));
        assert!(parse_user_changes(br#"{"user_id":"u"}"#, &id("u")).is_ok());
        assert!(parse_user_changes(br#"{"user_id":"v"}"#, &id("u")).is_err());
    }

    #[test]
    fn user_ids_come_from_the_query_or_the_body_in_order_without_repeats() {
        let ids = parse_user_ids(Some("user_ids=b&x=1&user_ids=a%20b&user_ids=b"), b"").unwrap();
        assert_eq!(ids, [id("b"), id("a b")]);
        let ids = parse_user_ids(None, br#"["x","y","x"]"#).unwrap();
        assert_eq!(ids, [id("x"), id("y")]);
        assert!(parse_user_ids(None, b"").is_err());
        assert!(parse_user_ids(Some("user_ids="), b"").is_err());
        assert!(parse_user_ids(None, br#"[1]"#).is_err());
        let many = (0..201).map(|i| format!("user_ids={i}")).collect::<Vec<_>>().join("&");
        assert!(parse_user_ids(Some(&many), b"").unwrap_err().contains("at most 200"));
    }
}
