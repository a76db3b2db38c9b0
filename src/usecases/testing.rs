//! What the use cases' unit tests share: users to register, and the
//! service over an in-memory table (`store::in_memory`), whose failures a
//! test switches on. Time is tokio's, paused by each test
//! (`start_paused`), so that waiting out a timeout costs nothing.

use super::UserService;
use crate::domain::{NewUser, User, UserId};
use crate::im::scripted_maxim::ScriptedMaxim;
use crate::im::{ImAccounts, ImSettings, ProviderSettings};
use crate::store::in_memory::InMemoryStore;
use crate::store::Store;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

pub fn id(id: &str) -> UserId {
    UserId::parse(id.into(), "user_id").unwrap()
}

pub fn new_user(user_id: &str) -> NewUser {
    NewUser {
        user_id: id(user_id),
        nick: format!("nick of {user_id}"),
        avatar: String::new(),
        extends: Default::default(),
    }
}

/// The end of a request's work, as far off as the edge leaves it.
pub fn work_end() -> Instant {
    Instant::now() + Duration::from_millis(9_200)
}

/// The service with IM accounts issued here (`IM_PROVIDER=local`), over
/// an in-memory table.
pub fn local_service() -> (UserService, Arc<InMemoryStore>) {
    let table = InMemoryStore::new();
    let store = Store::from(table.clone());
    let settings = ImSettings {
        username_prefix: "ql".into(),
        provider: ProviderSettings::Local,
    };
    let im = ImAccounts::new(settings, store.clone()).unwrap();
    (UserService::new(store, im), table)
}

/// The service registering accounts in a scripted Lanying IM
/// (`IM_PROVIDER=maxim`), over an in-memory table.
pub fn maxim_service() -> (UserService, Arc<InMemoryStore>, Arc<ScriptedMaxim>) {
    let table = InMemoryStore::new();
    let store = Store::from(table.clone());
    let lanying = ScriptedMaxim::new();
    let im = ImAccounts::scripted_maxim(lanying.clone(), store.clone());
    (UserService::new(store, im), table, lanying)
}

/// The IM user id `user`'s stored credentials log in to Lanying as, if
/// they do.
pub fn logs_in(lanying: &ScriptedMaxim, user: &User) -> Option<i64> {
    lanying.login(&user.im.im_username, &user.im.im_password)
}
