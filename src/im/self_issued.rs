//! IM accounts this service issues itself, for running without an IM
//! server (the default): `im_userid` from blocks leased from a counter in
//! the users table, the username from `im_username`, a random password.

use super::ImError;
use crate::domain::im_account::{im_username, random_password};
use crate::domain::{ImAccount, UserId};
use crate::store::Store;
use tokio::sync::Mutex;
use tokio::time::Instant;

/// How many `im_userid`s one counter call leases. Ids left in a block when
/// an instance stops are never used: ids are unique, not contiguous.
pub const IM_ID_BLOCK_SIZE: i64 = 100;

pub struct SelfIssuedIm {
    store: Store,
    username_prefix: String,
    /// The unused part `[next, end)` of the block this instance leased. The
    /// lock is held across the lease so that concurrent requests in one
    /// instance never lease twice for the same shortage.
    block: Mutex<(i64, i64)>,
}

impl SelfIssuedIm {
    pub fn new(store: Store, username_prefix: String) -> Self {
        SelfIssuedIm {
            store,
            username_prefix,
            block: Mutex::new((0, 0)),
        }
    }

    /// Leases the first block ahead of any request: during a Lambda's init,
    /// this one call also opens the DynamoDB connection (TCP and TLS), so
    /// that the first request pays for none of it.
    pub async fn warm_up(&self) -> Result<(), ImError> {
        let mut block = self.block.lock().await;
        self.lease_if_short(&mut block, 1).await
    }

    pub async fn new_accounts(&self, user_ids: &[&UserId]) -> Result<Vec<ImAccount>, ImError> {
        let ids = self.take_ids(user_ids.len()).await?;
        user_ids
            .iter()
            .zip(ids)
            .map(|(user_id, im_userid)| {
                Ok(ImAccount {
                    im_userid,
                    im_username: im_username(&self.username_prefix, user_id),
                    im_password: random_password().map_err(|e| ImError::Other(e.into()))?,
                })
            })
            .collect()
    }

    /// A self-issued account is complete from the start: there is no IM to
    /// ask.
    pub async fn complete(&self, _account: &ImAccount, _end: Instant) -> Result<Option<i64>, ImError> {
        Ok(None)
    }

    async fn take_ids(&self, count: usize) -> Result<Vec<i64>, ImError> {
        let count = i64::try_from(count).map_err(|e| ImError::Other(e.into()))?;
        let mut block = self.block.lock().await;
        self.lease_if_short(&mut block, count).await?;
        let ids = (block.0..block.0 + count).collect();
        block.0 += count;
        Ok(ids)
    }

    /// Replaces the block when fewer than `count` ids are left in it. One
    /// counter call covers the whole request, however large.
    async fn lease_if_short(&self, block: &mut (i64, i64), count: i64) -> Result<(), ImError> {
        if block.1 - block.0 < count {
            let leased = self.store.lease_im_ids(count.max(IM_ID_BLOCK_SIZE)).await?;
            *block = (leased.start, leased.end);
        }
        Ok(())
    }
}
