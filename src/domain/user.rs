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

    pub fn profile(&self) -> UserProfile<'_> {
        UserProfile {
            user_id: self.user_id.as_str(),
            nick: &self.nick,
            avatar: &self.avatar,
            im_userid: self.im.im_userid,
            im_username: &self.im.im_username,
            im_password: &self.im.im_password,
            extends: &self.extends,
        }
    }
}
