//! The table layout: key formats, attribute names, and users to and from
//! items. The only place that knows them; public for the import tool,
//! which writes the same items.
//!
//! One table, one string partition key `pk`. A user lives at `USER#<id>`;
//! the IM-id counter at `COUNTER#im_userid`, which no user id can produce.
//! Every user item carries an `extends` map (possibly empty) so that an
//! update can set single keys inside it atomically.

use super::StoreError;
use crate::domain::{Extends, ImAccount, NewUser, User, UserId};
use aws_sdk_dynamodb::types::AttributeValue;
use std::collections::HashMap;
use std::time::{SystemTime, UNIX_EPOCH};

pub type Item = HashMap<String, AttributeValue>;

pub const PK: &str = "pk";
const USER_KEY_PREFIX: &str = "USER#";
pub const IM_COUNTER_KEY: &str = "COUNTER#im_userid";

pub const USER_ID: &str = "user_id";
pub const NICK: &str = "nick";
pub const AVATAR: &str = "avatar";
pub const EXTENDS: &str = "extends";
pub const IM_USERID: &str = "im_userid";
pub const IM_USERNAME: &str = "im_username";
pub const IM_PASSWORD: &str = "im_password";
pub const CREATED_AT: &str = "created_at";
pub const UPDATED_AT: &str = "updated_at";
pub const COUNTER_NEXT: &str = "next_id";

pub fn user_key(id: &UserId) -> Item {
    HashMap::from([(PK.to_owned(), AttributeValue::S(format!("{USER_KEY_PREFIX}{id}")))])
}

/// The item of a new user; `now` is milliseconds since the Unix epoch.
pub fn user_item(user: &NewUser, im: &ImAccount, now: i64) -> Item {
    let extends = user
        .extends
        .iter()
        .map(|(k, v)| (k.clone(), AttributeValue::S(v.clone())))
        .collect();
    let mut item = user_key(&user.user_id);
    item.extend([
        (USER_ID.to_owned(), AttributeValue::S(user.user_id.to_string())),
        (NICK.to_owned(), AttributeValue::S(user.nick.clone())),
        (AVATAR.to_owned(), AttributeValue::S(user.avatar.clone())),
        (EXTENDS.to_owned(), AttributeValue::M(extends)),
        (IM_USERID.to_owned(), number(im.im_userid)),
        (IM_USERNAME.to_owned(), AttributeValue::S(im.im_username.clone())),
        (IM_PASSWORD.to_owned(), AttributeValue::S(im.im_password.clone())),
        (CREATED_AT.to_owned(), number(now)),
        (UPDATED_AT.to_owned(), number(now)),
    ]);
    item
}

/// An item this code cannot read as a user.
#[derive(Debug, thiserror::Error)]
#[error("the user item {pk:?} lacks a valid user_id or im_userid")]
pub struct MalformedItem {
    pk: Option<String>,
}

/// A user from its item, taking the attributes out rather than copying
/// them (batch reads hand over up to 200 items).
pub fn user_from_item(mut item: Item) -> Result<User, StoreError> {
    let user_id = take_string(&mut item, USER_ID).and_then(|id| UserId::parse(id, USER_ID).ok());
    let (Some(user_id), Some(im_userid)) = (user_id, number_attr(&item, IM_USERID)) else {
        let pk = take_string(&mut item, PK);
        return Err(StoreError::other("read a user", MalformedItem { pk }));
    };
    let extends: Extends = match item.remove(EXTENDS) {
        Some(AttributeValue::M(map)) => map
            .into_iter()
            .filter_map(|(k, v)| match v {
                AttributeValue::S(v) => Some((k, v)),
                _ => None,
            })
            .collect(),
        _ => Extends::new(),
    };
    Ok(User {
        user_id,
        nick: take_string(&mut item, NICK).unwrap_or_default(),
        avatar: take_string(&mut item, AVATAR).unwrap_or_default(),
        extends,
        im: ImAccount {
            im_userid,
            im_username: take_string(&mut item, IM_USERNAME).unwrap_or_default(),
            im_password: take_string(&mut item, IM_PASSWORD).unwrap_or_default(),
        },
    })
}

pub fn take_string(item: &mut Item, name: &str) -> Option<String> {
    match item.remove(name) {
        Some(AttributeValue::S(value)) => Some(value),
        _ => None,
    }
}

pub fn number_attr(item: &Item, name: &str) -> Option<i64> {
    item.get(name).and_then(|v| v.as_n().ok()).and_then(|n| n.parse().ok())
}

pub fn number(n: i64) -> AttributeValue {
    AttributeValue::N(n.to_string())
}

pub fn now_millis() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn new_user() -> NewUser {
        NewUser {
            user_id: UserId::parse("用户 1".into(), "user_id").unwrap(),
            nick: "n".into(),
            avatar: "a".into(),
            extends: Extends::from([("k".into(), "v".into())]),
        }
    }

    fn account() -> ImAccount {
        ImAccount {
            im_userid: 9_007_199_254_740_993,
            im_username: "ql用户 1".into(),
            im_password: "p".repeat(24),
        }
    }

    #[test]
    fn a_user_item_reads_back_as_the_same_user() {
        let item = user_item(&new_user(), &account(), 1_700_000_000_000);
        assert_eq!(item[PK], AttributeValue::S("USER#用户 1".into()));
        assert_eq!(item[CREATED_AT], AttributeValue::N("1700000000000".into()));
        let user = user_from_item(item).unwrap();
        let expected = new_user();
        assert_eq!(
            (user.user_id, user.nick, user.avatar, user.extends, user.im),
            (
                expected.user_id,
                expected.nick,
                expected.avatar,
                expected.extends,
                account()
            )
        );
    }

    #[test]
    fn times_are_milliseconds_since_the_epoch() {
        let ms = |t: SystemTime| t.duration_since(UNIX_EPOCH).unwrap().as_millis() as i64;
        let before = ms(SystemTime::now());
        let now = now_millis();
        assert!(before <= now && now <= ms(SystemTime::now()), "{before} {now}");
    }

    #[test]
    fn an_item_without_user_id_or_im_userid_is_an_error_naming_its_key() {
        let mut item = user_item(&new_user(), &account(), 0);
        item.remove(IM_USERID);
        let error = user_from_item(item).unwrap_err();
        assert!(matches!(error, StoreError::Other { .. }));
        let source = std::error::Error::source(&error).unwrap().to_string();
        assert!(source.contains("USER#用户 1"), "{source}");
    }
}
