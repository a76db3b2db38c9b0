//! The contract's limits, and the error that names the field breaking one.

use std::fmt;

pub const MAX_USER_ID_CHARS: usize = 64;
pub const MAX_NICK_CHARS: usize = 64;
pub const MAX_AVATAR_CHARS: usize = 1024;
pub const MAX_EXTENDS_ENTRIES: usize = 64;
pub const MAX_EXTENDS_KEY_CHARS: usize = 64;
pub const MAX_EXTENDS_VALUE_CHARS: usize = 1024;
pub const MAX_USERS_PER_BATCH: usize = 200;
pub const MAX_IDS_PER_BATCH_GET: usize = 200;

/// Input that breaks the contract. The text names the field and says why,
/// e.g. `users[3].extends: at most 64 entries, got 65`; it is written for
/// the client, who gets it as the reply's `message`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidInput(String);

impl InvalidInput {
    pub fn new(why: impl Into<String>) -> Self {
        InvalidInput(why.into())
    }

    pub fn message(&self) -> &str {
        &self.0
    }

    pub fn into_message(self) -> String {
        self.0
    }
}

impl fmt::Display for InvalidInput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for InvalidInput {}

/// Length in characters (not bytes) within `min..=max`.
pub fn check_length(value: &str, field: &str, min: usize, max: usize) -> Result<(), InvalidInput> {
    let chars = value.chars().count();
    if chars < min {
        return Err(InvalidInput(format!("{field}: must not be empty")));
    }
    if chars > max {
        return Err(InvalidInput(format!("{field}: at most {max} characters, got {chars}")));
    }
    Ok(())
}

/// An update merges its `extends` keys into the stored map, which may then
/// hold at most [`MAX_EXTENDS_ENTRIES`]: the per-request limit alone would
/// let a user grow by 64 entries an update, up to DynamoDB's 400 KB item.
/// `stored` entries are there already; `added` of the update's keys are
/// not. A user stored with more entries (imported, or from before this
/// bound) keeps them and may still change the keys it has.
pub fn check_extends_after_merge(stored: usize, added: usize) -> Result<(), InvalidInput> {
    if added > 0 && stored + added > MAX_EXTENDS_ENTRIES {
        return Err(InvalidInput(format!(
            "extends: a user holds at most {MAX_EXTENDS_ENTRIES} entries; it has {stored} and this update adds {added} new"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_are_inclusive_and_counted_in_characters() {
        assert!(check_length("用户", "f", 2, 2).is_ok());
        assert_eq!(
            check_length("", "f", 1, 2).unwrap_err().message(),
            "f: must not be empty"
        );
        assert_eq!(
            check_length("abc", "f", 0, 2).unwrap_err().message(),
            "f: at most 2 characters, got 3"
        );
    }

    #[test]
    fn the_error_displays_as_its_message() {
        let error = InvalidInput::new("nick: at most 64 characters, got 65");
        assert_eq!(error.to_string(), "nick: at most 64 characters, got 65");
    }

    #[test]
    fn an_update_may_fill_extends_to_the_limit_but_not_past_it() {
        assert!(check_extends_after_merge(60, 4).is_ok());
        assert_eq!(
            check_extends_after_merge(60, 5).unwrap_err().message(),
            "extends: a user holds at most 64 entries; it has 60 and this update adds 5 new"
        );
    }

    #[test]
    fn a_user_over_the_limit_may_still_change_the_keys_it_has() {
        assert!(check_extends_after_merge(100, 0).is_ok());
        assert!(check_extends_after_merge(100, 1).is_err());
    }
}
