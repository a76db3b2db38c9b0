//! The contract's limits and rules, and the error that names the field
//! breaking one. The constructors of the domain's values ([`UserId::parse`],
//! [`NewUser::new`], [`UserChanges::new`]) are the only callers of the
//! checks; every adapter (the HTTP edge, the MySQL import) goes through them.
//!
//! [`UserId::parse`]: super::UserId::parse
//! [`NewUser::new`]: super::NewUser::new
//! [`UserChanges::new`]: super::UserChanges::new

use std::fmt;

pub const MAX_USER_ID_CHARS: usize = 64;
pub const MAX_NICK_CHARS: usize = 64;
pub const MAX_AVATAR_CHARS: usize = 1024;
pub const MAX_EXTENDS_ENTRIES: usize = 64;
pub const MAX_EXTENDS_KEY_CHARS: usize = 64;
pub const MAX_EXTENDS_VALUE_CHARS: usize = 1024;
pub const MAX_USERS_PER_BATCH: usize = 200;
pub const MAX_IDS_PER_BATCH_GET: usize = 200;

/// A value as an input gave it, before any rule is checked. Adapters say
/// what they found; the constructors decide whether it is acceptable.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Given<T> {
    /// Left out. A JSON `null` counts as left out, as Go's `encoding/json`
    /// made it for the original service.
    #[default]
    Absent,
    Value(T),
    /// Something of another kind where a `T` belongs: a number where text
    /// belongs, bytes that are not UTF-8.
    WrongKind,
}

/// The value that breaks a rule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Field {
    UserId,
    Nick,
    Avatar,
    Extends,
    /// A key of `extends`, as a key (its length).
    ExtendsKey(String),
    /// The value under a key of `extends`.
    ExtendsValue(String),
    /// The `index`th id a batch get asks for.
    RequestedId(usize),
    /// A value its caller names itself (a stored attribute, a test).
    Named(String),
}

impl From<&str> for Field {
    fn from(name: &str) -> Self {
        Field::Named(name.to_owned())
    }
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Field::UserId => f.write_str("user_id"),
            Field::Nick => f.write_str("nick"),
            Field::Avatar => f.write_str("avatar"),
            Field::Extends => f.write_str("extends"),
            Field::ExtendsKey(key) => write!(f, "extends key {key:?}"),
            Field::ExtendsValue(key) => write!(f, "extends.{key}"),
            Field::RequestedId(index) => write!(f, "user_ids[{index}]"),
            Field::Named(name) => f.write_str(name),
        }
    }
}

/// The rule a value breaks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Rule {
    Required,
    Empty,
    /// Lengths are counted in characters, not bytes.
    TooLong {
        max: usize,
        got: usize,
    },
    ControlCharacters,
    NotAString,
    NotAnObjectOfStrings,
    TooManyEntries {
        max: usize,
        got: usize,
    },
    /// An update would leave `extends` with more than `max` entries.
    TooManyAfterMerge {
        max: usize,
        stored: usize,
        added: usize,
    },
    /// Ids never change.
    Unchangeable,
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Rule::Required => f.write_str("required"),
            Rule::Empty => f.write_str("must not be empty"),
            Rule::TooLong { max, got } => write!(f, "at most {max} characters, got {got}"),
            Rule::ControlCharacters => f.write_str("must not contain control characters"),
            Rule::NotAString => f.write_str("must be a string"),
            Rule::NotAnObjectOfStrings => f.write_str("must be an object of string values"),
            Rule::TooManyEntries { max, got } => write!(f, "at most {max} entries, got {got}"),
            Rule::TooManyAfterMerge { max, stored, added } => write!(
                f,
                "a user holds at most {max} entries; it has {stored} and this update adds {added} new"
            ),
            Rule::Unchangeable => f.write_str("cannot be changed; leave it out of the body"),
        }
    }
}

/// Input that breaks the contract: which field, which rule, and for a user
/// of a batch, which one. The text is written for the client, who gets it
/// as the reply's `message`, e.g. `users[3].extends: at most 64 entries,
/// got 65`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InvalidInput {
    user_in_batch: Option<usize>,
    field: Field,
    rule: Rule,
}

impl InvalidInput {
    pub fn new(field: impl Into<Field>, rule: Rule) -> Self {
        InvalidInput {
            user_in_batch: None,
            field: field.into(),
            rule,
        }
    }

    /// The same error, about the `index`th user of a batch.
    pub fn in_batch(self, index: usize) -> Self {
        InvalidInput {
            user_in_batch: Some(index),
            ..self
        }
    }

    pub fn field(&self) -> &Field {
        &self.field
    }

    pub fn rule(&self) -> &Rule {
        &self.rule
    }

    pub fn user_in_batch(&self) -> Option<usize> {
        self.user_in_batch
    }
}

impl fmt::Display for InvalidInput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(index) = self.user_in_batch {
            write!(f, "users[{index}].")?;
        }
        write!(f, "{}: {}", self.field, self.rule)
    }
}

impl std::error::Error for InvalidInput {}

/// Every rule one input breaks, in the order its fields are read; never
/// empty. A client is told the first; the import reports them all.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violations {
    first: InvalidInput,
    rest: Vec<InvalidInput>,
}

impl Violations {
    pub fn first(&self) -> &InvalidInput {
        &self.first
    }

    pub fn into_first(self) -> InvalidInput {
        self.first
    }

    pub fn iter(&self) -> impl Iterator<Item = &InvalidInput> {
        std::iter::once(&self.first).chain(&self.rest)
    }
}

impl fmt::Display for Violations {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.first.fmt(f)
    }
}

impl std::error::Error for Violations {}

/// Gathers what a constructor finds, so that one pass names every broken
/// rule.
#[derive(Default)]
pub(super) struct Checks(Vec<InvalidInput>);

impl Checks {
    pub(super) fn fail(&mut self, field: Field, rule: Rule) {
        self.0.push(InvalidInput::new(field, rule));
    }

    /// Length in characters (not bytes) within `min..=max`, where `min` is
    /// 0 or 1.
    pub(super) fn length(&mut self, value: &str, field: impl FnOnce() -> Field, min: usize, max: usize) {
        if let Some(rule) = length_rule(value, min, max) {
            self.fail(field(), rule);
        }
    }

    /// A text field that may be left out: `None` when it is, or when it
    /// is not text (which is then a broken rule).
    pub(super) fn optional_text(&mut self, given: Given<String>, field: Field) -> Option<String> {
        match given {
            Given::Absent => None,
            Given::Value(text) => Some(text),
            Given::WrongKind => {
                self.fail(field, Rule::NotAString);
                None
            }
        }
    }

    /// `value` if no rule was broken while making it.
    pub(super) fn finish<T>(self, value: T) -> Result<T, Violations> {
        let mut broken = self.0.into_iter();
        match broken.next() {
            None => Ok(value),
            Some(first) => Err(Violations {
                first,
                rest: broken.collect(),
            }),
        }
    }
}

/// The length rule `value` breaks, if any: lengths are inclusive and
/// counted in characters.
pub(super) fn length_rule(value: &str, min: usize, max: usize) -> Option<Rule> {
    let chars = value.chars().count();
    if chars < min {
        Some(Rule::Empty)
    } else if chars > max {
        Some(Rule::TooLong { max, got: chars })
    } else {
        None
    }
}

/// An update merges its `extends` keys into the stored map, which may then
/// hold at most [`MAX_EXTENDS_ENTRIES`]: the per-request limit alone would
/// let a user grow by 64 entries an update, up to DynamoDB's 400 KB item.
/// `stored` entries are there already; `added` of the update's keys are
/// not. A user stored with more entries (imported, or from before this
/// bound) keeps them and may still change the keys it has.
pub fn check_extends_after_merge(stored: usize, added: usize) -> Result<(), InvalidInput> {
    if added > 0 && stored + added > MAX_EXTENDS_ENTRIES {
        return Err(InvalidInput::new(
            Field::Extends,
            Rule::TooManyAfterMerge {
                max: MAX_EXTENDS_ENTRIES,
                stored,
                added,
            },
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_are_inclusive_and_counted_in_characters() {
        assert_eq!(length_rule("用户", 2, 2), None);
        assert_eq!(length_rule("", 0, 2), None);
        assert_eq!(length_rule("", 1, 2), Some(Rule::Empty));
        assert_eq!(length_rule("abc", 0, 2), Some(Rule::TooLong { max: 2, got: 3 }));
    }

    #[test]
    fn the_text_names_the_field_then_the_rule() {
        let cases = [
            (InvalidInput::new(Field::UserId, Rule::Required), "user_id: required"),
            (InvalidInput::new(Field::Nick, Rule::Empty), "nick: must not be empty"),
            (
                InvalidInput::new(Field::Avatar, Rule::TooLong { max: 1024, got: 1025 }),
                "avatar: at most 1024 characters, got 1025",
            ),
            (
                InvalidInput::new(Field::RequestedId(2), Rule::ControlCharacters),
                "user_ids[2]: must not contain control characters",
            ),
            (
                InvalidInput::new(Field::ExtendsValue("age".into()), Rule::NotAString).in_batch(3),
                "users[3].extends.age: must be a string",
            ),
            (
                InvalidInput::new(Field::ExtendsKey("a\"b".into()), Rule::Empty),
                "extends key \"a\\\"b\": must not be empty",
            ),
            (
                InvalidInput::new(Field::Extends, Rule::NotAnObjectOfStrings),
                "extends: must be an object of string values",
            ),
            (
                InvalidInput::new(Field::Extends, Rule::TooManyEntries { max: 64, got: 65 }).in_batch(0),
                "users[0].extends: at most 64 entries, got 65",
            ),
            (
                InvalidInput::new(Field::UserId, Rule::Unchangeable),
                "user_id: cannot be changed; leave it out of the body",
            ),
            (
                InvalidInput::new("user_ids", Rule::Empty),
                "user_ids: must not be empty",
            ),
        ];
        for (error, text) in cases {
            assert_eq!(error.to_string(), text);
        }
    }

    #[test]
    fn an_error_keeps_its_field_rule_and_place_in_a_batch() {
        let error = InvalidInput::new(Field::Nick, Rule::NotAString).in_batch(7);
        assert_eq!(
            (error.field(), error.rule(), error.user_in_batch()),
            (&Field::Nick, &Rule::NotAString, Some(7))
        );
        assert_eq!(InvalidInput::new(Field::Nick, Rule::NotAString).user_in_batch(), None);
    }

    #[test]
    fn violations_keep_their_order_and_show_the_first() {
        let mut checks = Checks::default();
        checks.fail(Field::UserId, Rule::Required);
        checks.length("nnn", || Field::Nick, 0, 2);
        checks.length("n", || Field::Avatar, 0, 2);
        let violations = checks.finish(()).unwrap_err();
        let texts: Vec<String> = violations.iter().map(ToString::to_string).collect();
        assert_eq!(texts, ["user_id: required", "nick: at most 2 characters, got 3"]);
        assert_eq!(violations.to_string(), "user_id: required");
        assert_eq!(violations.first(), &InvalidInput::new(Field::UserId, Rule::Required));
        assert_eq!(violations.into_first().to_string(), "user_id: required");
        assert_eq!(Checks::default().finish(5), Ok(5));
    }

    #[test]
    fn an_optional_text_of_another_kind_is_a_broken_rule() {
        let mut checks = Checks::default();
        assert_eq!(checks.optional_text(Given::Absent, Field::Nick), None);
        assert_eq!(
            checks.optional_text(Given::Value("n".into()), Field::Nick),
            Some("n".into())
        );
        assert_eq!(checks.optional_text(Given::WrongKind, Field::Avatar), None);
        assert_eq!(checks.finish(()).unwrap_err().to_string(), "avatar: must be a string");
    }

    #[test]
    fn an_update_may_fill_extends_to_the_limit_but_not_past_it() {
        assert!(check_extends_after_merge(60, 4).is_ok());
        assert_eq!(
            check_extends_after_merge(60, 5).unwrap_err().to_string(),
            "extends: a user holds at most 64 entries; it has 60 and this update adds 5 new"
        );
    }

    #[test]
    fn a_user_over_the_limit_may_still_change_the_keys_it_has() {
        assert!(check_extends_after_merge(100, 0).is_ok());
        assert!(check_extends_after_merge(100, 1).is_err());
    }
}
