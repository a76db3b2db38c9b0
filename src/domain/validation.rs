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
}
