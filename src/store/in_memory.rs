//! The users table in memory, for the use cases' unit tests: the same
//! answers as the DynamoDB store, and switches for the failures DynamoDB
//! can show, so that a rule that depends on one is tested in milliseconds
//! without Java. The rules both stores follow (recognising one's own
//! write, the rounds of a batch write, the bound on `extends`) are shared,
//! not copied.

use super::batch_rounds::{write_in_rounds, BATCH_WRITE_MAX_ITEMS};
use super::counter::leased_block;
use super::{limits, refused_create, NotWritten, StoreError};
use crate::domain::validation::check_extends_after_merge;
use crate::domain::{ImAccount, NewUser, User, UserChanges, UserId};
use futures_util::future::join_all;
use std::collections::BTreeMap;
use std::ops::{ControlFlow, Range};
use std::sync::{Arc, Mutex};
use tokio::time::Instant;

/// What the table does wrong, switched on by a test. Counts are used up
/// one by one.
#[derive(Clone, Debug, Default)]
pub struct Faults {
    /// Every call hangs until the SDK's operation timeout, then fails as
    /// unavailable: a DynamoDB that accepts connections and never answers.
    pub stall: bool,
    /// Every call fails as throttled or unreachable after the SDK's
    /// retries, having done nothing.
    pub unavailable: bool,
    /// The next creates find their id just taken by another registration
    /// (with other credentials): the race a conditional put settles.
    pub conflicts: u32,
    /// The next batch-write calls leave their last item unprocessed.
    pub unprocessed: u32,
    /// The next write attempts take effect but their answers are lost; the
    /// write is sent again, as the SDK does, and meets itself. When every
    /// attempt of a call is lost, the caller sees it unavailable. Reads
    /// are not affected.
    pub lost_replies: u32,
}

#[derive(Debug, Default)]
struct Table {
    users: BTreeMap<UserId, User>,
    /// The last IM user id handed out.
    im_counter: i64,
    faults: Faults,
}

#[derive(Debug, Default)]
pub struct InMemoryStore {
    // Never held across an await.
    table: Mutex<Table>,
}

/// A failure a test switched on.
#[derive(Debug, thiserror::Error)]
#[error("injected: {0}")]
struct Injected(&'static str);

impl InMemoryStore {
    pub fn new() -> Arc<Self> {
        Arc::new(InMemoryStore::default())
    }

    /// Changes what goes wrong from now on.
    pub fn inject(&self, change: impl FnOnce(&mut Faults)) {
        change(&mut self.lock().faults);
    }

    /// A user as stored, read around every fault.
    pub fn stored(&self, id: &UserId) -> Option<User> {
        self.lock().users.get(id).cloned()
    }

    /// How many users are stored.
    pub fn user_count(&self) -> usize {
        self.lock().users.len()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Table> {
        self.table.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// One read: the table as it is, unless stalled or unavailable.
    async fn read<T>(
        &self,
        operation: &'static str,
        apply: impl FnMut(&mut Table) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        self.call(operation, false, apply).await
    }

    /// One write, sent again (up to the SDK's attempts) while its answer is
    /// lost.
    async fn write<T>(
        &self,
        operation: &'static str,
        apply: impl FnMut(&mut Table) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        self.call(operation, true, apply).await
    }

    /// `apply` runs once per attempt that reaches the table.
    async fn call<T>(
        &self,
        operation: &'static str,
        write: bool,
        mut apply: impl FnMut(&mut Table) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let stall = self.lock().faults.stall;
        if stall {
            tokio::time::sleep(limits::OPERATION_TIMEOUT).await;
            return Err(StoreError::unavailable(operation, Injected("no answer")));
        }
        for _ in 0..limits::MAX_ATTEMPTS {
            let mut table = self.lock();
            if table.faults.unavailable {
                return Err(StoreError::unavailable(operation, Injected("unavailable")));
            }
            let result = apply(&mut table);
            if !write || table.faults.lost_replies == 0 {
                return result;
            }
            table.faults.lost_replies -= 1;
        }
        Err(StoreError::unavailable(operation, Injected("every answer lost")))
    }

    pub(super) async fn create_user(&self, user: &NewUser, im: &ImAccount) -> Result<(), StoreError> {
        self.write("PutItem", |table| {
            if table.faults.conflicts > 0 {
                table.faults.conflicts -= 1;
                let rival = ImAccount {
                    im_password: format!("{}-rival", im.im_password),
                    ..im.clone()
                };
                table.users.insert(user.user_id.clone(), stored_user(user, &rival));
            }
            match table.users.get(&user.user_id) {
                Some(stored) => refused_create(Some(&stored.im.im_password), im),
                None => {
                    table.users.insert(user.user_id.clone(), stored_user(user, im));
                    Ok(())
                }
            }
        })
        .await
    }

    pub(super) async fn get_user(&self, id: &UserId) -> Result<Option<User>, StoreError> {
        self.read("GetItem", |table| Ok(table.users.get(id).cloned())).await
    }

    pub(super) async fn read_users(
        &self,
        ids: &[&UserId],
        _max_json_bytes: usize,
        on_user: &mut (dyn FnMut(User) -> ControlFlow<()> + Send),
    ) -> Result<(), StoreError> {
        let found: Vec<User> = self
            .read("BatchGetItem", |table: &mut Table| {
                Ok(ids.iter().filter_map(|id| table.users.get(*id).cloned()).collect())
            })
            .await?;
        for user in found {
            if on_user(user).is_break() {
                break;
            }
        }
        Ok(())
    }

    pub(super) async fn existing_user_ids(&self, ids: &[&UserId]) -> Result<Vec<UserId>, StoreError> {
        self.read("BatchGetItem", |table| {
            Ok(ids
                .iter()
                .filter(|id| table.users.contains_key(**id))
                .map(|id| (*id).clone())
                .collect())
        })
        .await
    }

    pub(super) async fn put_users(&self, users: &[(&NewUser, ImAccount)], writes_end: Instant) -> Vec<NotWritten> {
        let chunks = users.chunks(BATCH_WRITE_MAX_ITEMS).map(|chunk| async move {
            let written = write_in_rounds("BatchWriteItem", chunk.to_vec(), writes_end, |pending| async move {
                self.write("BatchWriteItem", |table| {
                    let mut pending = pending.clone();
                    let unprocessed = match table.faults.unprocessed {
                        0 => Vec::new(),
                        _ => {
                            table.faults.unprocessed -= 1;
                            pending.split_off(pending.len() - 1)
                        }
                    };
                    for (user, im) in pending {
                        table.users.insert(user.user_id.clone(), stored_user(user, &im));
                    }
                    Ok(unprocessed)
                })
                .await
            })
            .await;
            let (pending, cause) = written.err()?;
            Some(NotWritten {
                user_ids: pending.into_iter().map(|(user, _)| user.user_id.clone()).collect(),
                cause,
            })
        });
        join_all(chunks).await.into_iter().flatten().collect()
    }

    pub(super) async fn update_user(&self, id: &UserId, changes: &UserChanges) -> Result<(), StoreError> {
        self.write("UpdateItem", |table| {
            let user = table.users.get_mut(id).ok_or(StoreError::NotFound)?;
            let added = changes
                .extends
                .keys()
                .filter(|key| !user.extends.contains_key(*key))
                .count();
            check_extends_after_merge(user.extends.len(), added)?;
            if let Some(nick) = &changes.nick {
                user.nick.clone_from(nick);
            }
            if let Some(avatar) = &changes.avatar {
                user.avatar.clone_from(avatar);
            }
            user.extends.extend(changes.extends.clone());
            Ok(())
        })
        .await
    }

    pub(super) async fn record_im_userid(
        &self,
        id: &UserId,
        im_password: &str,
        im_userid: i64,
    ) -> Result<(), StoreError> {
        self.write("UpdateItem(im_userid)", |table| match table.users.get_mut(id) {
            Some(user) if user.im.im_password == im_password => {
                user.im.im_userid = im_userid;
                Ok(())
            }
            _ => Err(StoreError::Conflict),
        })
        .await
    }

    pub(super) async fn lease_im_ids(&self, count: i64) -> Result<Range<i64>, StoreError> {
        self.write("UpdateItem(counter)", |table| {
            table.im_counter += count;
            Ok(leased_block(table.im_counter, count))
        })
        .await
    }

    pub(super) async fn touch(&self) -> Result<(), StoreError> {
        self.read("GetItem", |_| Ok(())).await
    }
}

fn stored_user(user: &NewUser, im: &ImAccount) -> User {
    User {
        user_id: user.user_id.clone(),
        nick: user.nick.clone(),
        avatar: user.avatar.clone(),
        extends: user.extends.clone(),
        im: im.clone(),
    }
}
