//! One `live_users` row: skipped (soft-deleted), invalid (with every reason
//! that applies), or the user the service would have stored.
//!
//! The user's fields go through the service's own constructor
//! ([`NewUser::new`], which the register endpoint calls too), so that an
//! imported user is always one the service itself could have registered;
//! each rule it names broken becomes one of the report's reasons. The IM
//! account's columns are the import's own to check: the service makes IM
//! accounts, it never receives them.

use qnlive_user_api::domain::{Field, Given, GivenUser, ImAccount, InvalidInput, NewUser, Rule};
use qnlive_user_api::edge::decode::given_extends;
use qnlive_user_import::table::ImportedUser;
use serde_json::Value;
use std::collections::BTreeSet;
use std::fmt;
use time::{Date, Month, UtcOffset};

/// The largest `im_userid` imported. The IM-id counter is raised to the
/// largest imported id, and users registered later get ids above it: the
/// margin keeps that counter far from overflowing. Ids above it (never
/// seen from a real IM) are reported as invalid.
pub const MAX_IM_USERID: i64 = i64::MAX / 2;

/// A row as read from MySQL; text as bytes, so that nothing is decoded
/// before it is checked.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SourceRow {
    pub id: u64,
    pub user_id: Option<Vec<u8>>,
    pub nick: Option<Vec<u8>>,
    pub avatar: Option<Vec<u8>>,
    pub extends: Option<Vec<u8>>,
    /// Wide enough for `bigint unsigned` too.
    pub im_userid: Option<i128>,
    pub im_username: Option<Vec<u8>>,
    pub im_password: Option<Vec<u8>>,
    pub created_at: Option<DateTime>,
    pub updated_at: Option<DateTime>,
    /// `deleted_at IS NOT NULL`, computed by MySQL.
    pub deleted: bool,
}

/// A DATETIME as MySQL sends it; the zero date is all zeros.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DateTime {
    pub year: u16,
    pub month: u8,
    pub day: u8,
    pub hour: u8,
    pub minute: u8,
    pub second: u8,
    pub micros: u32,
}

#[derive(Debug, PartialEq)]
pub enum Class {
    Deleted,
    Invalid { reasons: Vec<String> },
    Valid(ImportedUser),
}

/// Why a row is not imported, in the order the report lists them.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Reason {
    UserIdNotUtf8,
    NickNotUtf8,
    AvatarNotUtf8,
    ExtendsNotUtf8,
    ImUsernameNotUtf8,
    ImPasswordNotUtf8,
    UserIdNull,
    UserIdEmpty,
    UserIdTooLong,
    UserIdControlCharacter,
    NickTooLong,
    AvatarTooLong,
    ExtendsNotJson,
    ExtendsNotObject,
    ExtendsTooManyEntries,
    ExtendsNonStringValue,
    ExtendsKeyEmpty,
    ExtendsKeyTooLong,
    ExtendsValueTooLong,
    ImUseridMissing,
    ImUseridNegative,
    ImUseridTooLarge,
    ImUsernameMissing,
    ImPasswordMissing,
    /// A rule of the service that the reasons above do not name.
    Refused(String),
}

impl Reason {
    /// The reason for a rule the service's constructor found broken. A
    /// column that is not UTF-8 reaches the constructor as a value of the
    /// wrong kind.
    fn of(invalid: &InvalidInput) -> Reason {
        match (invalid.field(), invalid.rule()) {
            (Field::UserId, Rule::NotAString) => Reason::UserIdNotUtf8,
            (Field::UserId, Rule::Required) => Reason::UserIdNull,
            (Field::UserId, Rule::Empty) => Reason::UserIdEmpty,
            (Field::UserId, Rule::TooLong { .. }) => Reason::UserIdTooLong,
            (Field::UserId, Rule::ControlCharacters) => Reason::UserIdControlCharacter,
            (Field::Nick, Rule::NotAString) => Reason::NickNotUtf8,
            (Field::Nick, Rule::TooLong { .. }) => Reason::NickTooLong,
            (Field::Avatar, Rule::NotAString) => Reason::AvatarNotUtf8,
            (Field::Avatar, Rule::TooLong { .. }) => Reason::AvatarTooLong,
            (Field::Extends, Rule::NotAnObjectOfStrings) => Reason::ExtendsNotObject,
            (Field::Extends, Rule::TooManyEntries { .. }) => Reason::ExtendsTooManyEntries,
            (Field::ExtendsValue(_), Rule::NotAString) => Reason::ExtendsNonStringValue,
            (Field::ExtendsKey(_), Rule::Empty) => Reason::ExtendsKeyEmpty,
            (Field::ExtendsKey(_), Rule::TooLong { .. }) => Reason::ExtendsKeyTooLong,
            (Field::ExtendsValue(_), Rule::TooLong { .. }) => Reason::ExtendsValueTooLong,
            _ => Reason::Refused(invalid.to_string()),
        }
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Reason::UserIdNotUtf8 => "user_id_not_utf8",
            Reason::NickNotUtf8 => "nick_not_utf8",
            Reason::AvatarNotUtf8 => "avatar_not_utf8",
            Reason::ExtendsNotUtf8 => "extends_not_utf8",
            Reason::ImUsernameNotUtf8 => "im_username_not_utf8",
            Reason::ImPasswordNotUtf8 => "im_password_not_utf8",
            Reason::UserIdNull => "user_id_null",
            Reason::UserIdEmpty => "user_id_empty",
            Reason::UserIdTooLong => "user_id_too_long",
            Reason::UserIdControlCharacter => "user_id_control_character",
            Reason::NickTooLong => "nick_too_long",
            Reason::AvatarTooLong => "avatar_too_long",
            Reason::ExtendsNotJson => "extends_not_json",
            Reason::ExtendsNotObject => "extends_not_object",
            Reason::ExtendsTooManyEntries => "extends_too_many_entries",
            Reason::ExtendsNonStringValue => "extends_non_string_value",
            Reason::ExtendsKeyEmpty => "extends_key_empty",
            Reason::ExtendsKeyTooLong => "extends_key_too_long",
            Reason::ExtendsValueTooLong => "extends_value_too_long",
            Reason::ImUseridMissing => "im_userid_missing",
            Reason::ImUseridNegative => "im_userid_negative",
            Reason::ImUseridTooLarge => "im_userid_too_large",
            Reason::ImUsernameMissing => "im_username_missing",
            Reason::ImPasswordMissing => "im_password_missing",
            Reason::Refused(why) => return write!(f, "refused by the service: {why}"),
        })
    }
}

/// A text column as found: `NULL` is left out, bytes that are not UTF-8
/// are of the wrong kind.
fn text(bytes: &Option<Vec<u8>>) -> Given<String> {
    match bytes.as_deref().map(std::str::from_utf8) {
        None => Given::Absent,
        Some(Ok(text)) => Given::Value(text.to_owned()),
        Some(Err(_)) => Given::WrongKind,
    }
}

pub fn classify(row: &SourceRow, zone: UtcOffset) -> Class {
    if row.deleted {
        return Class::Deleted;
    }
    // Ordered and each once, whichever check finds it.
    let mut reasons = BTreeSet::new();
    let mut add = |reason: Reason, applies: bool| {
        if applies {
            reasons.insert(reason);
        }
    };

    // The original service kept `extends` as JSON text; it reaches the
    // constructor as the register endpoint's body would have carried it.
    let extends = match text(&row.extends) {
        Given::Value(json) => match serde_json::from_str::<Value>(&json) {
            Ok(value) => given_extends(Some(&value)),
            Err(_) => {
                add(Reason::ExtendsNotJson, true);
                Given::Absent
            }
        },
        Given::WrongKind => {
            add(Reason::ExtendsNotUtf8, true);
            Given::Absent
        }
        Given::Absent => Given::Absent,
    };
    let user = NewUser::new(GivenUser {
        user_id: text(&row.user_id),
        nick: text(&row.nick),
        avatar: text(&row.avatar),
        extends,
    });

    let mut im_text = |bytes: &Option<Vec<u8>>, not_utf8: Reason| match text(bytes) {
        Given::Value(text) => text,
        Given::Absent => String::new(),
        Given::WrongKind => {
            add(not_utf8, true);
            String::new()
        }
    };
    let im_username = im_text(&row.im_username, Reason::ImUsernameNotUtf8);
    let im_password = im_text(&row.im_password, Reason::ImPasswordNotUtf8);
    let im_userid = row.im_userid.unwrap_or(0);
    add(Reason::ImUseridMissing, im_userid == 0);
    add(Reason::ImUseridNegative, im_userid < 0);
    add(Reason::ImUseridTooLarge, im_userid > i128::from(MAX_IM_USERID));
    add(Reason::ImUsernameMissing, im_username.is_empty());
    add(Reason::ImPasswordMissing, im_password.is_empty());

    match (user, i64::try_from(im_userid)) {
        (Ok(user), Ok(im_userid)) if reasons.is_empty() => Class::Valid(ImportedUser {
            user,
            im: ImAccount {
                im_userid,
                im_username,
                im_password,
            },
            created_at: millis(row.created_at, zone),
            updated_at: millis(row.updated_at, zone),
        }),
        (user, _) => {
            if let Err(broken) = user {
                reasons.extend(broken.iter().map(Reason::of));
            }
            Class::Invalid {
                reasons: reasons.iter().map(Reason::to_string).collect(),
            }
        }
    }
}

/// Milliseconds since the epoch of a DATETIME written in `zone`; `None` for
/// the zero date and other impossible dates.
pub fn millis(value: Option<DateTime>, zone: UtcOffset) -> Option<i64> {
    let v = value?;
    let date = Date::from_calendar_date(i32::from(v.year), Month::try_from(v.month).ok()?, v.day).ok()?;
    let nanos = date
        .with_hms_micro(v.hour, v.minute, v.second, v.micros)
        .ok()?
        .assume_offset(zone)
        .unix_timestamp_nanos();
    i64::try_from(nanos.div_euclid(1_000_000)).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row() -> SourceRow {
        let bytes = |s: &str| Some(s.as_bytes().to_vec());
        SourceRow {
            id: 7,
            user_id: bytes("用户😀"),
            nick: None,
            avatar: bytes("https://a/b.png"),
            extends: bytes(r#"{"b":"2","a":"first","a":"last"}"#),
            im_userid: Some(1_000_123),
            im_username: bytes("ql用户😀"),
            im_password: bytes("p@ss w'rd"),
            created_at: Some(at(2022, 5, 19, 8, 0, 0)),
            updated_at: None,
            deleted: false,
        }
    }

    fn at(year: u16, month: u8, day: u8, hour: u8, minute: u8, second: u8) -> DateTime {
        DateTime {
            year,
            month,
            day,
            hour,
            minute,
            second,
            micros: 0,
        }
    }

    type Change<'a> = Box<dyn FnOnce(&mut SourceRow) + 'a>;

    fn reasons(change: impl FnOnce(&mut SourceRow)) -> Vec<String> {
        let mut r = row();
        change(&mut r);
        match classify(&r, UtcOffset::UTC) {
            Class::Invalid { reasons } => reasons,
            other => panic!("not invalid: {other:?}"),
        }
    }

    #[test]
    fn a_valid_row_becomes_the_user_the_service_would_store() {
        let Class::Valid(user) = classify(&row(), UtcOffset::UTC) else {
            panic!("invalid")
        };
        assert_eq!(user.user.user_id.as_str(), "用户😀");
        assert_eq!(
            (user.user.nick.as_str(), user.user.avatar.as_str()),
            ("", "https://a/b.png")
        );
        let extends: Vec<_> = user
            .user
            .extends
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        assert_eq!(extends, [("a", "last"), ("b", "2")]);
        assert_eq!(
            (
                user.im.im_userid,
                user.im.im_username.as_str(),
                user.im.im_password.as_str()
            ),
            (1_000_123, "ql用户😀", "p@ss w'rd")
        );
        assert_eq!((user.created_at, user.updated_at), (Some(1_652_947_200_000), None));
        for empty in [
            None,
            Some(b"null".to_vec()),
            Some(b" null ".to_vec()),
            Some(b"{}".to_vec()),
        ] {
            let Class::Valid(user) = classify(
                &SourceRow {
                    extends: empty,
                    ..row()
                },
                UtcOffset::UTC,
            ) else {
                panic!("invalid")
            };
            assert!(user.user.extends.is_empty());
        }
        assert_eq!(
            classify(
                &SourceRow {
                    deleted: true,
                    user_id: None,
                    ..row()
                },
                UtcOffset::UTC
            ),
            Class::Deleted
        );
    }

    #[test]
    fn limits_are_inclusive() {
        let bytes = |s: String| Some(s.into_bytes());
        let mut r = row();
        r.user_id = bytes("😀".repeat(64));
        r.nick = bytes("n".repeat(64));
        r.avatar = bytes("a".repeat(1024));
        let entries: Vec<String> = (0..63).map(|i| format!(r#""k{i}":"v""#)).collect();
        r.extends = bytes(format!(
            r#"{{{},"{}":"{}"}}"#,
            entries.join(","),
            "键".repeat(64),
            "値".repeat(1024)
        ));
        r.im_userid = Some(i128::from(MAX_IM_USERID));
        assert!(matches!(classify(&r, UtcOffset::UTC), Class::Valid(_)));
    }

    #[test]
    fn every_reason_is_listed_in_order() {
        let bytes = |s: &str| Some(s.as_bytes().to_vec());
        assert_eq!(
            reasons(|r| {
                r.user_id = None;
                r.extends = bytes(r#"{"n":1,"":"x"}"#);
                r.im_userid = None;
                r.im_username = bytes("");
                r.im_password = None;
            }),
            [
                "user_id_null",
                "extends_non_string_value",
                "extends_key_empty",
                "im_userid_missing",
                "im_username_missing",
                "im_password_missing"
            ]
        );
        let cases: Vec<(Change<'_>, &[&str])> = vec![
            (Box::new(|r| r.user_id = bytes("")), &["user_id_empty"]),
            (Box::new(|r| r.user_id = Some(vec![b'a'; 65])), &["user_id_too_long"]),
            (
                Box::new(|r| r.user_id = bytes("a\u{85}b\n")),
                &["user_id_control_character"],
            ),
            (Box::new(|r| r.user_id = Some(vec![0xff])), &["user_id_not_utf8"]),
            (Box::new(|r| r.nick = Some(vec![b'n'; 65])), &["nick_too_long"]),
            (Box::new(|r| r.avatar = Some(vec![b'a'; 1025])), &["avatar_too_long"]),
            (Box::new(|r| r.extends = bytes("{")), &["extends_not_json"]),
            (Box::new(|r| r.extends = bytes("[]")), &["extends_not_object"]),
            (Box::new(|r| r.extends = bytes(r#""{}""#)), &["extends_not_object"]),
            (
                Box::new(|r| r.extends = bytes(r#"{"a":null}"#)),
                &["extends_non_string_value"],
            ),
            (
                Box::new(|r| r.extends = bytes(&format!(r#"{{"{}":"v"}}"#, "k".repeat(65)))),
                &["extends_key_too_long"],
            ),
            (
                Box::new(|r| r.extends = bytes(&format!(r#"{{"k":"{}"}}"#, "v".repeat(1025)))),
                &["extends_value_too_long"],
            ),
            (Box::new(|r| r.im_userid = Some(0)), &["im_userid_missing"]),
            (Box::new(|r| r.im_userid = Some(-1)), &["im_userid_negative"]),
            (
                Box::new(|r| r.im_userid = Some(i128::from(MAX_IM_USERID) + 1)),
                &["im_userid_too_large"],
            ),
            (
                Box::new(|r| r.im_userid = Some(i128::from(u64::MAX))),
                &["im_userid_too_large"],
            ),
            (Box::new(|r| r.im_username = None), &["im_username_missing"]),
            (Box::new(|r| r.im_password = bytes("")), &["im_password_missing"]),
            (
                Box::new(|r| r.im_password = Some(vec![0xc3])),
                &["im_password_not_utf8", "im_password_missing"],
            ),
        ];
        for (change, expected) in cases {
            assert_eq!(reasons(change), expected);
        }
        let many: Vec<String> = (0..65).map(|i| format!(r#""k{i}":"v""#)).collect();
        let many = format!("{{{}}}", many.join(","));
        assert_eq!(
            reasons(|r| r.extends = Some(many.into_bytes())),
            ["extends_too_many_entries"]
        );
    }

    #[test]
    fn each_rule_a_field_breaks_is_listed() {
        assert_eq!(
            reasons(|r| r.user_id = Some(format!("{}\t", "u".repeat(64)).into_bytes())),
            ["user_id_too_long", "user_id_control_character"]
        );
        assert_eq!(
            reasons(|r| {
                r.nick = Some(vec![0xff]);
                r.avatar = Some(vec![0xfe]);
                r.extends = Some(vec![0xc3]);
                r.im_username = Some(vec![0xff]);
            }),
            [
                "nick_not_utf8",
                "avatar_not_utf8",
                "extends_not_utf8",
                "im_username_not_utf8",
                "im_username_missing"
            ]
        );
        let many: Vec<String> = (0..65).map(|i| format!(r#""k{i}":{i}"#)).collect();
        assert_eq!(
            reasons(|r| r.extends = Some(format!("{{{}}}", many.join(",")).into_bytes())),
            ["extends_too_many_entries", "extends_non_string_value"]
        );
    }

    #[test]
    fn a_rule_without_a_reason_of_its_own_is_named_in_the_services_words() {
        let unnamed = InvalidInput::new(Field::UserId, Rule::Unchangeable);
        assert_eq!(
            Reason::of(&unnamed).to_string(),
            "refused by the service: user_id: cannot be changed; leave it out of the body"
        );
        assert!(Reason::UserIdNull < Reason::of(&unnamed));
    }

    #[test]
    fn datetimes_are_read_in_the_given_zone() {
        let shanghai = UtcOffset::from_hms(8, 0, 0).unwrap();
        let t = at(2022, 5, 19, 8, 0, 0);
        assert_eq!(millis(Some(t), UtcOffset::UTC), Some(1_652_947_200_000));
        assert_eq!(millis(Some(t), shanghai), Some(1_652_918_400_000));
        assert_eq!(
            millis(Some(DateTime { micros: 999_999, ..t }), UtcOffset::UTC),
            Some(1_652_947_200_999)
        );
        assert_eq!(
            millis(Some(at(1000, 1, 1, 0, 0, 0)), UtcOffset::UTC),
            Some(-30_610_224_000_000)
        );
        assert_eq!(
            millis(Some(at(9999, 12, 31, 23, 59, 59)), UtcOffset::UTC),
            Some(253_402_300_799_000)
        );
        assert_eq!(millis(Some(DateTime::default()), UtcOffset::UTC), None);
        assert_eq!(millis(Some(at(2023, 2, 30, 0, 0, 0)), UtcOffset::UTC), None);
        assert_eq!(millis(Some(at(2023, 1, 1, 24, 0, 0)), UtcOffset::UTC), None);
        assert_eq!(millis(None, UtcOffset::UTC), None);
    }
}
