//! IM accounts: the credentials each user gets once, at registration.
//!
//! The original service asked its IM server ("Maxim") for them. This one
//! makes them itself behind [`ImProvider`], so that a real IM server can be
//! plugged in later without touching the handlers.

use crate::error::ApiError;
use crate::store::Store;
use crate::users::UserId;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use futures_util::future::BoxFuture;
use std::fmt;
use tokio::sync::Mutex;

/// How many `im_userid`s one counter call leases. Ids left in a block when
/// an instance stops are never used: ids are unique, not contiguous.
pub const IM_ID_BLOCK_SIZE: i64 = 100;

/// 18 random bytes give 24 URL-safe characters (144 bits).
const PASSWORD_BYTES: usize = 18;

#[derive(Clone, PartialEq, Eq)]
pub struct ImAccount {
    pub im_userid: i64,
    pub im_username: String,
    pub im_password: String,
}

impl fmt::Debug for ImAccount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ImAccount")
            .field("im_userid", &self.im_userid)
            .field("im_username", &self.im_username)
            .field("im_password", &"<redacted>")
            .finish()
    }
}

/// Creates IM accounts for new users.
pub trait ImProvider: Send + Sync {
    /// One account per id, in the same order.
    fn create_accounts<'a>(&'a self, user_ids: &'a [&'a UserId]) -> BoxFuture<'a, Result<Vec<ImAccount>, ApiError>>;

    /// Work worth doing before the first request (at Lambda init).
    fn prepare(&self) -> BoxFuture<'_, Result<(), ApiError>> {
        Box::pin(async { Ok(()) })
    }
}

/// Accounts made locally: `im_userid` from blocks leased from a counter in
/// the users table, `im_username` = prefix + user id, and a random password.
pub struct LocalImProvider {
    store: Store,
    username_prefix: String,
    /// The unused part `[next, end)` of the block this instance leased. The
    /// lock is held across the lease so that concurrent requests in one
    /// instance never lease twice for the same shortage.
    block: Mutex<(i64, i64)>,
}

impl LocalImProvider {
    pub fn new(store: Store, username_prefix: String) -> Self {
        LocalImProvider {
            store,
            username_prefix,
            block: Mutex::new((0, 0)),
        }
    }

    /// Leases the first block ahead of any request: during a Lambda's init,
    /// this one call also opens the DynamoDB connection (TCP and TLS) and
    /// resolves credentials, so that the first request pays for none of it.
    pub async fn prepare(&self) -> Result<(), ApiError> {
        let mut block = self.block.lock().await;
        self.lease_if_short(&mut block, 1).await
    }

    async fn take_ids(&self, count: usize) -> Result<Vec<i64>, ApiError> {
        let count = i64::try_from(count).map_err(|_| ApiError::Internal)?;
        let mut block = self.block.lock().await;
        self.lease_if_short(&mut block, count).await?;
        let ids = (block.0..block.0 + count).collect();
        block.0 += count;
        Ok(ids)
    }

    /// Replaces the block when fewer than `count` ids are left in it. One
    /// counter call covers the whole request, however large.
    async fn lease_if_short(&self, block: &mut (i64, i64), count: i64) -> Result<(), ApiError> {
        if block.1 - block.0 < count {
            let leased = self.store.lease_im_ids(count.max(IM_ID_BLOCK_SIZE)).await?;
            *block = (leased.start, leased.end);
        }
        Ok(())
    }
}

impl ImProvider for LocalImProvider {
    fn prepare(&self) -> BoxFuture<'_, Result<(), ApiError>> {
        Box::pin(LocalImProvider::prepare(self))
    }

    fn create_accounts<'a>(&'a self, user_ids: &'a [&'a UserId]) -> BoxFuture<'a, Result<Vec<ImAccount>, ApiError>> {
        Box::pin(async move {
            let ids = self.take_ids(user_ids.len()).await?;
            user_ids
                .iter()
                .zip(ids)
                .map(|(user_id, im_userid)| {
                    Ok(ImAccount {
                        im_userid,
                        im_username: format!("{}{}", self.username_prefix, user_id),
                        im_password: random_password()?,
                    })
                })
                .collect()
        })
    }
}

/// A password from the operating system's CSPRNG.
fn random_password() -> Result<String, ApiError> {
    let mut bytes = [0u8; PASSWORD_BYTES];
    getrandom::getrandom(&mut bytes).map_err(|e| {
        tracing::error!(error = %e, "the operating system's random generator failed");
        ApiError::Internal
    })?;
    Ok(URL_SAFE_NO_PAD.encode(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_long_random_and_url_safe() {
        let a = random_password().unwrap();
        let b = random_password().unwrap();
        assert_eq!(a.len(), 24);
        assert_ne!(a, b);
        assert!(a.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_'));
    }

    #[test]
    fn debug_hides_the_password() {
        let account = ImAccount {
            im_userid: 1,
            im_username: "qlu".into(),
            im_password: "hunter2hunter2hunter2".into(),
        };
        assert!(!format!("{account:?}").contains("hunter2"));
    }
}
