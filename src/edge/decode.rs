//! Request bodies and queries decoded into domain values, once, with
//! errors that name the field (`users[3].extends.age: must be a string`).
//!
//! JSON follows Go's `encoding/json`, as the original service did: unknown
//! fields are ignored and `null` counts as absent. The decoding walks a
//! `serde_json::Value` rather than deriving `Deserialize`, so that each
//! message is the contract's wording rather than serde's. This file knows
//! the shape of requests (a JSON object, an array of users, the ids of a
//! batch get); what makes a user, an update or an id valid is the
//! domain's, through its constructors.

use super::error::ApiError;
use crate::domain::validation::{MAX_IDS_PER_BATCH_GET, MAX_USERS_PER_BATCH};
use crate::domain::{Field, Given, GivenExtends, GivenUser, InvalidInput, NewUser, Rule, UserChanges, UserId};
use serde_json::{Map, Value};
use std::collections::HashSet;
use std::fmt;

/// A request whose shape is wrong, or whose values break a rule of the
/// domain.
#[derive(Debug)]
pub enum DecodeError {
    EmptyBody,
    MalformedJson(serde_json::Error),
    /// Not a JSON object: the body, or the `index`th user of a batch.
    NotAnObject {
        user_in_batch: Option<usize>,
    },
    NotAnArrayOfUsers,
    NoUsers,
    TooManyUsers(usize),
    NotAnArrayOfIds,
    NoIds,
    TooManyIds(usize),
    Invalid(InvalidInput),
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecodeError::EmptyBody => f.write_str("body: empty; send a JSON document"),
            DecodeError::MalformedJson(error) => write!(f, "body: malformed JSON ({error})"),
            DecodeError::NotAnObject { user_in_batch: None } => f.write_str("body: must be a JSON object"),
            DecodeError::NotAnObject {
                user_in_batch: Some(index),
            } => write!(f, "users[{index}]: must be a JSON object"),
            DecodeError::NotAnArrayOfUsers => f.write_str("body: must be a JSON array of users"),
            DecodeError::NoUsers => f.write_str("body: the array of users is empty"),
            DecodeError::TooManyUsers(got) => {
                write!(f, "body: at most {MAX_USERS_PER_BATCH} users per request, got {got}")
            }
            DecodeError::NotAnArrayOfIds => f.write_str("body: must be a JSON array of user ids"),
            DecodeError::NoIds => f.write_str("user_ids: give at least one, as user_ids=a&user_ids=b"),
            DecodeError::TooManyIds(got) => {
                write!(f, "user_ids: at most {MAX_IDS_PER_BATCH_GET} per request, got {got}")
            }
            DecodeError::Invalid(invalid) => invalid.fmt(f),
        }
    }
}

impl std::error::Error for DecodeError {}

impl From<InvalidInput> for DecodeError {
    fn from(invalid: InvalidInput) -> Self {
        DecodeError::Invalid(invalid)
    }
}

impl From<DecodeError> for ApiError {
    fn from(bad: DecodeError) -> Self {
        ApiError::bad_request(bad.to_string())
    }
}

/// The body of a single register.
pub fn new_user(body: &[u8]) -> Result<NewUser, DecodeError> {
    let given = given_user(as_object(&parse_json(body)?, None)?);
    Ok(NewUser::new(given).map_err(|broken| broken.into_first())?)
}

/// The body of a batch register: a JSON array of 1..=200 users. The first
/// user that breaks a rule is the one named.
pub fn new_users(body: &[u8]) -> Result<Vec<NewUser>, DecodeError> {
    let Value::Array(items) = parse_json(body)? else {
        return Err(DecodeError::NotAnArrayOfUsers);
    };
    if items.is_empty() {
        return Err(DecodeError::NoUsers);
    }
    if items.len() > MAX_USERS_PER_BATCH {
        return Err(DecodeError::TooManyUsers(items.len()));
    }
    items
        .iter()
        .enumerate()
        .map(|(index, item)| {
            let object = as_object(item, Some(index))?;
            NewUser::new(given_user(object)).map_err(|broken| broken.into_first().in_batch(index).into())
        })
        .collect()
}

/// The body of an update of `path_user_id`.
pub fn user_changes(body: &[u8], path_user_id: &UserId) -> Result<UserChanges, DecodeError> {
    let given = given_user(as_object(&parse_json(body)?, None)?);
    Ok(UserChanges::new(given, path_user_id).map_err(|broken| broken.into_first())?)
}

/// The ids a batch get asks for.
#[derive(Debug, PartialEq, Eq)]
pub struct RequestedIds {
    /// In request order, repeats removed.
    pub unique: Vec<UserId>,
    /// How many were sent, repeats included.
    pub sent: usize,
}

/// The ids of a batch get: the repeated query key `user_ids=a&user_ids=b`
/// (as the original server reads them) or, when the query has none, a JSON
/// array body `["a","b"]` (as the original document shows). 1..=200 ids,
/// counted as sent.
pub fn user_ids(query: Option<&str>, body: &[u8]) -> Result<RequestedIds, DecodeError> {
    let from_query: Vec<String> = form_urlencoded::parse(query.unwrap_or("").as_bytes())
        .filter(|(key, _)| key == "user_ids")
        .map(|(_, value)| value.into_owned())
        .collect();

    let raw: Vec<String> = if !from_query.is_empty() {
        from_query
    } else if !is_blank(body) {
        let Value::Array(items) = parse_json(body)? else {
            return Err(DecodeError::NotAnArrayOfIds);
        };
        items
            .into_iter()
            .enumerate()
            .map(|(i, item)| match item {
                Value::String(s) => Ok(s),
                _ => Err(InvalidInput::new(Field::RequestedId(i), Rule::NotAString)),
            })
            .collect::<Result<_, _>>()?
    } else {
        Vec::new()
    };

    if raw.is_empty() {
        return Err(DecodeError::NoIds);
    }
    if raw.len() > MAX_IDS_PER_BATCH_GET {
        return Err(DecodeError::TooManyIds(raw.len()));
    }
    let sent = raw.len();
    let mut seen = HashSet::with_capacity(sent);
    let mut unique = Vec::with_capacity(sent);
    for (i, value) in raw.into_iter().enumerate() {
        let id = UserId::parse(value, Field::RequestedId(i))?;
        if seen.insert(id.clone()) {
            unique.push(id);
        }
    }
    Ok(RequestedIds { unique, sent })
}

/// `extends` as a JSON value holds it: `null` is left out, an object's
/// values must be strings. The original service's table keeps `extends`
/// as this JSON text, so the import reads it here too.
pub fn given_extends(value: Option<&Value>) -> Given<GivenExtends> {
    match value {
        None | Some(Value::Null) => Given::Absent,
        Some(Value::Object(entries)) => Given::Value(
            entries
                .iter()
                .map(|(key, value)| (key.clone(), given_text(value)))
                .collect(),
        ),
        Some(_) => Given::WrongKind,
    }
}

fn given_user(object: &Map<String, Value>) -> GivenUser {
    let text = |name: &str| match object.get(name) {
        None | Some(Value::Null) => Given::Absent,
        Some(value) => given_text(value),
    };
    GivenUser {
        user_id: text("user_id"),
        nick: text("nick"),
        avatar: text("avatar"),
        extends: given_extends(object.get("extends")),
    }
}

/// A value where a string belongs. Inside `extends` even `null` is of the
/// wrong kind: an entry is a key with its text.
fn given_text(value: &Value) -> Given<String> {
    match value {
        Value::String(s) => Given::Value(s.clone()),
        _ => Given::WrongKind,
    }
}

fn is_blank(body: &[u8]) -> bool {
    body.iter().all(u8::is_ascii_whitespace)
}

fn parse_json(body: &[u8]) -> Result<Value, DecodeError> {
    if is_blank(body) {
        return Err(DecodeError::EmptyBody);
    }
    serde_json::from_slice(body).map_err(DecodeError::MalformedJson)
}

fn as_object(value: &Value, user_in_batch: Option<usize>) -> Result<&Map<String, Value>, DecodeError> {
    value.as_object().ok_or(DecodeError::NotAnObject { user_in_batch })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(s: &str) -> UserId {
        UserId::parse(s.into(), "user_id").unwrap()
    }

    fn error(result: Result<impl std::fmt::Debug, DecodeError>) -> String {
        result.unwrap_err().to_string()
    }

    #[test]
    fn a_full_user_parses_and_unknown_fields_are_ignored() {
        let user = new_user(br#"{"user_id":"u1","nick":"N","avatar":"a","extends":{"age":"18"},"x":1}"#).unwrap();
        assert_eq!(user.user_id, id("u1"));
        assert_eq!((user.nick.as_str(), user.avatar.as_str()), ("N", "a"));
        assert_eq!(user.extends.get("age").map(String::as_str), Some("18"));
    }

    #[test]
    fn null_optional_fields_are_absent() {
        let user = new_user(br#"{"user_id":"u1","nick":null,"extends":null}"#).unwrap();
        assert_eq!((user.nick.as_str(), user.extends.len()), ("", 0));
    }

    #[test]
    fn errors_name_the_field() {
        let cases: [(&[u8], &str); 10] = [
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
            (
                br#"{"user_id":"u","extends":{"":"v"}}"#,
                "extends key \"\": must not be empty",
            ),
        ];
        for (body, expected) in cases {
            let err = error(new_user(body));
            assert!(err.starts_with(expected), "{err:?} should start with {expected:?}");
        }
    }

    #[test]
    fn limits_are_inclusive_and_count_characters_not_bytes() {
        let ok = format!(r#"{{"user_id":"{}","nick":"{}"}}"#, "用".repeat(64), "n".repeat(64));
        assert!(new_user(ok.as_bytes()).is_ok());
        let long = format!(r#"{{"user_id":"{}"}}"#, "用".repeat(65));
        assert_eq!(
            error(new_user(long.as_bytes())),
            "user_id: at most 64 characters, got 65"
        );
        let most: Map<String, Value> = (0..64).map(|i| (format!("k{i}"), Value::from("v"))).collect();
        let body = serde_json::json!({"user_id": "u", "extends": most}).to_string();
        assert_eq!(new_user(body.as_bytes()).unwrap().extends.len(), 64);
        let many: Map<String, Value> = (0..65).map(|i| (format!("k{i}"), Value::from("v"))).collect();
        let body = serde_json::json!({"user_id": "u", "extends": many}).to_string();
        assert_eq!(error(new_user(body.as_bytes())), "extends: at most 64 entries, got 65");
    }

    #[test]
    fn batch_errors_carry_the_index_and_the_batch_takes_1_to_200_users() {
        assert!(error(new_users(br#"[{"user_id":"a"},{"user_id":""}]"#)).starts_with("users[1].user_id"));
        assert_eq!(error(new_users(b"[]")), "body: the array of users is empty");
        assert_eq!(
            error(new_users(br#"{"user_id":"a"}"#)),
            "body: must be a JSON array of users"
        );
        assert_eq!(error(new_users(br#"[5]"#)), "users[0]: must be a JSON object");
        let users: Vec<Value> = (0..201)
            .map(|i| serde_json::json!({"user_id": format!("u{i}")}))
            .collect();
        let body = Value::Array(users.clone()).to_string();
        assert_eq!(
            error(new_users(body.as_bytes())),
            "body: at most 200 users per request, got 201"
        );
        let body = Value::Array(users[..200].to_vec()).to_string();
        assert_eq!(new_users(body.as_bytes()).unwrap().len(), 200);
    }

    #[test]
    fn update_ignores_empty_strings_and_refuses_a_different_id() {
        let changes = user_changes(br#"{"nick":"","avatar":"b","extends":{"k":"v"}}"#, &id("u")).unwrap();
        assert_eq!(changes.nick, None);
        assert_eq!(changes.avatar.as_deref(), Some("b"));
        assert_eq!(changes.extends.get("k").map(String::as_str), Some("v"));
        assert!(user_changes(br#"{"user_id":"u"}"#, &id("u")).is_ok());
        assert!(error(user_changes(br#"{"user_id":"v"}"#, &id("u"))).starts_with("user_id: cannot be changed"));
    }

    #[test]
    fn update_limits_apply_to_what_is_given() {
        let long_nick = format!(r#"{{"nick":"{}"}}"#, "n".repeat(65));
        assert_eq!(
            error(user_changes(long_nick.as_bytes(), &id("u"))),
            "nick: at most 64 characters, got 65"
        );
        let long_avatar = format!(r#"{{"avatar":"{}"}}"#, "a".repeat(1025));
        assert_eq!(
            error(user_changes(long_avatar.as_bytes(), &id("u"))),
            "avatar: at most 1024 characters, got 1025"
        );
        assert_eq!(error(user_changes(b"[]", &id("u"))), "body: must be a JSON object");
    }

    #[test]
    fn the_first_broken_rule_is_the_one_named() {
        assert_eq!(
            error(new_user(br#"{"user_id":"","nick":5}"#)),
            "user_id: must not be empty"
        );
        assert_eq!(
            error(new_users(br#"[{"user_id":"a"},{"nick":5},{"user_id":""}]"#)),
            "users[1].user_id: required"
        );
        let body = format!(r#"{{"nick":"{}","avatar":5}}"#, "n".repeat(65));
        assert_eq!(
            error(user_changes(body.as_bytes(), &id("u"))),
            "avatar: must be a string"
        );
        assert_eq!(error(user_ids(None, br#"["",5]"#)), "user_ids[1]: must be a string");
    }

    #[test]
    fn extends_in_json_is_absent_when_null_and_holds_strings() {
        assert_eq!(given_extends(None), Given::Absent);
        assert_eq!(given_extends(Some(&Value::Null)), Given::Absent);
        assert_eq!(given_extends(Some(&serde_json::json!("k=v"))), Given::WrongKind);
        assert_eq!(
            given_extends(Some(&serde_json::json!({"a": "1", "b": null, "c": 2}))),
            Given::Value(vec![
                ("a".into(), Given::Value("1".into())),
                ("b".into(), Given::WrongKind),
                ("c".into(), Given::WrongKind),
            ])
        );
    }

    #[test]
    fn a_bad_request_is_a_400_with_its_text() {
        let api: ApiError = DecodeError::NoUsers.into();
        assert_eq!(
            (api.status().as_u16(), api.to_string().as_str()),
            (400, "body: the array of users is empty")
        );
    }

    #[test]
    fn user_ids_come_from_the_query_or_the_body_in_order_without_repeats() {
        let ids = user_ids(Some("user_ids=b&x=1&user_ids=a%20b&user_ids=b"), b"").unwrap();
        assert_eq!((ids.unique, ids.sent), (vec![id("b"), id("a b")], 3));
        let ids = user_ids(None, br#"["x","y","x"]"#).unwrap();
        assert_eq!((ids.unique, ids.sent), (vec![id("x"), id("y")], 3));
        // The query wins when it has user_ids.
        assert_eq!(user_ids(Some("user_ids=q"), br#"["x"]"#).unwrap().unique, [id("q")]);
        assert!(error(user_ids(None, b"")).starts_with("user_ids: give at least one"));
        assert_eq!(
            error(user_ids(Some("user_ids="), b"")),
            "user_ids[0]: must not be empty"
        );
        assert_eq!(error(user_ids(None, br#"[1]"#)), "user_ids[0]: must be a string");
        assert_eq!(
            error(user_ids(None, br#"{"a":1}"#)),
            "body: must be a JSON array of user ids"
        );
        let many = (0..201).map(|i| format!("user_ids={i}")).collect::<Vec<_>>().join("&");
        assert_eq!(
            error(user_ids(Some(&many), b"")),
            "user_ids: at most 200 per request, got 201"
        );
        let exactly = (0..200)
            .map(|i| format!("user_ids={}", i % 3))
            .collect::<Vec<_>>()
            .join("&");
        assert_eq!(user_ids(Some(&exactly), b"").unwrap().unique.len(), 3);
    }
}
