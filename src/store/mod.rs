//! The users table. It knows the domain and nothing above it: it returns
//! domain values and its own [`StoreError`], never a reply.
//!
//! [`Store`] is the one seam the use cases and the self-issued IM call
//! through. Behind it is DynamoDB ([`DynamoDbStore`]), or, in unit tests,
//! an in-memory table with switches for DynamoDB's failures
//! (`in_memory.rs`). What only a real table has (creating it) is on
//! [`DynamoDbStore`] alone. The import tool's writes live in its own
//! package (`import/src/table.rs`), on this store's item layout
//! ([`items`]), so that the Lambda never compiles them.

pub mod batch;
mod batch_rounds;
pub mod client;
mod counter;
mod dynamodb;
mod error;
#[cfg(test)]
pub mod in_memory;
pub mod items;
mod read_budget;
mod users;

pub use batch::NotWritten;
pub use client::{dynamodb_client, limits};
pub use dynamodb::DynamoDbStore;
pub use error::{failed_condition, StoreError};
pub use users::PutIfAbsent;

use crate::domain::{ImAccount, NewUser, User, UserChanges, UserId};
use std::ops::{ControlFlow, Range};
use tokio::time::Instant;

/// The users table as the use cases see it. Cheap to clone: every clone
/// is the same table.
#[derive(Clone, Debug)]
pub struct Store {
    backend: Backend,
}

/// An enum rather than a trait object: async calls without boxing their
/// futures, one `match` per call, and the test backend compiled out of
/// the release binary.
#[derive(Clone, Debug)]
enum Backend {
    DynamoDb(DynamoDbStore),
    #[cfg(test)]
    InMemory(std::sync::Arc<in_memory::InMemoryStore>),
}

impl From<DynamoDbStore> for Store {
    fn from(store: DynamoDbStore) -> Self {
        Store {
            backend: Backend::DynamoDb(store),
        }
    }
}

#[cfg(test)]
impl From<std::sync::Arc<in_memory::InMemoryStore>> for Store {
    fn from(store: std::sync::Arc<in_memory::InMemoryStore>) -> Self {
        Store {
            backend: Backend::InMemory(store),
        }
    }
}

/// Calls the same method, with the same arguments, on whichever backend.
macro_rules! delegate {
    ($self:ident . $method:ident ( $($arg:expr),* )) => {
        match &$self.backend {
            Backend::DynamoDb(store) => store.$method($($arg),*).await,
            #[cfg(test)]
            Backend::InMemory(store) => store.$method($($arg),*).await,
        }
    };
}

impl Store {
    /// Writes a new user; never overwrites. `Conflict` if another write
    /// holds the id; this write met again (its answer was lost and the
    /// write retried) is its success.
    pub async fn create_user(&self, user: &NewUser, im: &ImAccount) -> Result<(), StoreError> {
        delegate!(self.create_user(user, im))
    }

    /// Reads one user, strongly consistent.
    pub async fn get_user(&self, id: &UserId) -> Result<Option<User>, StoreError> {
        delegate!(self.get_user(id))
    }

    /// Hands each stored user among `ids` to `on_user`, in no particular
    /// order, until it breaks; never a shortened read otherwise.
    /// `ReadTooLarge` when the answers certainly bring more than
    /// `max_json_bytes` of users.
    pub async fn read_users(
        &self,
        ids: &[&UserId],
        max_json_bytes: usize,
        on_user: &mut (dyn FnMut(User) -> ControlFlow<()> + Send),
    ) -> Result<(), StoreError> {
        delegate!(self.read_users(ids, max_json_bytes, on_user))
    }

    /// Which of `ids` are already stored.
    pub async fn existing_user_ids(&self, ids: &[&UserId]) -> Result<Vec<UserId>, StoreError> {
        delegate!(self.existing_user_ids(ids))
    }

    /// Writes users checked to be new, without conditions; returns every
    /// user not written, with the cause. Retries stop at `writes_end`.
    pub async fn put_users(&self, users: &[(&NewUser, ImAccount)], writes_end: Instant) -> Vec<NotWritten> {
        delegate!(self.put_users(users, writes_end))
    }

    /// Applies a partial update, merging `extends`. `NotFound`, `Invalid`
    /// (too many `extends` entries after the merge) or `TooLarge`.
    pub async fn update_user(&self, id: &UserId, changes: &UserChanges) -> Result<(), StoreError> {
        delegate!(self.update_user(id, changes))
    }

    /// Records the IM user id of a pending account, only for the account
    /// with this password (`Conflict` otherwise).
    pub async fn record_im_userid(&self, id: &UserId, im_password: &str, im_userid: i64) -> Result<(), StoreError> {
        delegate!(self.record_im_userid(id, im_password, im_userid))
    }

    /// Leases `count` IM user ids; the half-open range is the caller's.
    pub async fn lease_im_ids(&self, count: i64) -> Result<Range<i64>, StoreError> {
        delegate!(self.lease_im_ids(count))
    }

    /// One cheap read, to open the connection ahead of the first request.
    pub async fn touch(&self) -> Result<(), StoreError> {
        delegate!(self.touch())
    }
}

/// A create met a stored user with this IM password: was it this very
/// write, sent again after its answer was lost? The password is generated
/// anew for every registration, so "same password" means "same write":
/// success, not a conflict.
fn refused_create(stored_im_password: Option<&str>, im: &ImAccount) -> Result<(), StoreError> {
    if stored_im_password == Some(im.im_password.as_str()) {
        Ok(())
    } else {
        Err(StoreError::Conflict)
    }
}
