//! A user's id: the key of every endpoint, parsed once and trusted after.

use super::validation::{Checks, Field, InvalidInput, Rule, Violations, MAX_USER_ID_CHARS};
use serde::Serialize;
use std::borrow::Borrow;
use std::fmt;

/// A client's user id: 1..=64 characters, none of them a control character,
/// because ids end up in keys, paths, IM usernames and logs. Other text
/// fields only have length limits: clients of the original service may
/// store any text in them.
///
/// It serializes as the plain string; it has no `Deserialize`, so that
/// every id goes through [`UserId::parse`] (or, inside the domain, through
/// [`UserId::check`] in a constructor that finishes its checks).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct UserId(pub(super) String);

impl UserId {
    /// `field` names the value in the error (`Field::UserId`,
    /// `Field::RequestedId(2)`, ...); the error is the first rule broken.
    pub fn parse(value: String, field: impl Into<Field>) -> Result<Self, InvalidInput> {
        let mut checks = Checks::default();
        Self::check(&mut checks, &value, field.into());
        checks.finish(UserId(value)).map_err(Violations::into_first)
    }

    /// Every rule `value` breaks as an id: the length first, then the
    /// characters (an import reports both).
    pub(super) fn check(checks: &mut Checks, value: &str, field: Field) {
        checks.length(value, || field.clone(), 1, MAX_USER_ID_CHARS);
        if value.chars().any(char::is_control) {
            checks.fail(field, Rule::ControlCharacters);
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Lets maps keyed by `UserId` be searched with a `&str`.
impl Borrow<str> for UserId {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl From<UserId> for String {
    fn from(id: UserId) -> String {
        id.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_1_to_64_characters_without_control_characters() {
        assert_eq!(
            UserId::parse("用".repeat(64), "user_id").unwrap().as_str(),
            "用".repeat(64)
        );
        for (bad, why) in [
            ("", "user_id: must not be empty"),
            ("a\u{7}b", "user_id: must not contain control characters"),
            ("a\nb", "user_id: must not contain control characters"),
        ] {
            assert_eq!(UserId::parse(bad.into(), Field::UserId).unwrap_err().to_string(), why);
        }
        let long = UserId::parse("u".repeat(65), Field::UserId).unwrap_err().in_batch(2);
        assert_eq!(long.to_string(), "users[2].user_id: at most 64 characters, got 65");
        let both = UserId::parse(format!("{}\n", "u".repeat(64)), Field::RequestedId(1)).unwrap_err();
        assert_eq!(both.to_string(), "user_ids[1]: at most 64 characters, got 65");
    }

    #[test]
    fn checking_an_id_names_every_rule_it_breaks() {
        let mut checks = Checks::default();
        UserId::check(&mut checks, &format!("{}\u{7}", "u".repeat(64)), Field::UserId);
        let broken: Vec<String> = checks.finish(()).unwrap_err().iter().map(ToString::to_string).collect();
        assert_eq!(
            broken,
            [
                "user_id: at most 64 characters, got 65",
                "user_id: must not contain control characters"
            ]
        );
    }

    #[test]
    fn maps_keyed_by_id_are_searched_by_text_and_an_id_becomes_its_text() {
        let id = UserId::parse("张 三".into(), "user_id").unwrap();
        let map = std::collections::HashMap::from([(id.clone(), 1)]);
        assert_eq!(map.get("张 三"), Some(&1));
        assert_eq!(map.get(""), None);
        assert_eq!(String::from(id), "张 三");
    }
}
