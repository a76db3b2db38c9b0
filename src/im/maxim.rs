//! IM accounts in Lanying IM ("Maxim"), the IM of the QNLiveKit platform,
//! whose accounts the client SDKs log in to: the credentials are chosen
//! here and stored first (pending); the IM then registers (or adopts) the
//! account through [`MaximClient`], and its IM user id is recorded.

use super::maxim_client::MaximClient;
use super::ImError;
use crate::domain::im_account::{im_username, random_password};
use crate::domain::{ImAccount, UserId};
use crate::store::Store;
use tokio::time::Instant;

pub struct MaximIm {
    client: MaximClient,
    store: Store,
    username_prefix: String,
}

impl MaximIm {
    pub fn new(client: MaximClient, store: Store, username_prefix: String) -> Self {
        MaximIm {
            client,
            store,
            username_prefix,
        }
    }

    /// Opens the DynamoDB connection during Lambda's init, so that the
    /// first request pays for none of it, and beside it reads the admin
    /// token when it comes from Secrets Manager (a failure is logged, and
    /// the first IM call tries again). The IM is not called: its
    /// connection is only worth opening for a register.
    pub async fn warm_up(&self) -> Result<(), ImError> {
        let (touched, ()) = tokio::join!(self.store.touch(), self.client.read_admin_token());
        Ok(touched?)
    }

    /// Pending accounts: credentials chosen, no IM user id yet.
    pub async fn new_accounts(&self, user_ids: &[&UserId]) -> Result<Vec<ImAccount>, ImError> {
        user_ids
            .iter()
            .map(|user_id| {
                let password = random_password().map_err(|e| ImError::Other(e.into()))?;
                Ok(ImAccount::pending(
                    im_username(&self.username_prefix, user_id),
                    password,
                ))
            })
            .collect()
    }

    /// Registers or adopts the account in the IM, until `end` at the
    /// latest, and returns its IM user id.
    pub async fn complete(&self, account: &ImAccount, end: Instant) -> Result<Option<i64>, ImError> {
        let im_userid = self
            .client
            .ensure_account(&account.im_username, &account.im_password, end)
            .await?;
        Ok(Some(im_userid))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::im::scripted_maxim::{rotating_admin_token, ScriptedMaxim};
    use crate::store::in_memory::InMemoryStore;
    use std::sync::atomic::Ordering;

    #[tokio::test(start_paused = true)]
    async fn warming_up_reads_the_admin_token_and_fails_with_the_table() {
        let (token, reads) = rotating_admin_token(&["token"]);
        let table = InMemoryStore::new();
        let client = MaximClient::scripted(ScriptedMaxim::new()).with_admin_token(token);
        let im = MaximIm::new(client, Store::from(table.clone()), "ql".into());
        im.warm_up().await.unwrap();
        assert_eq!(reads.load(Ordering::SeqCst), 1);
        table.inject(|faults| faults.unavailable = true);
        assert!(im.warm_up().await.is_err());
    }
}
