//! IM accounts: where each new user's IM credentials come from.
//!
//! - `IM_PROVIDER=local` (the default): this service issues them itself
//!   ([`SelfIssuedIm`]), for running without an IM server.
//! - `IM_PROVIDER=maxim`: Lanying IM ([`MaximIm`]), the IM of the
//!   QNLiveKit platform, whose accounts the client SDKs log in to. The
//!   credentials are chosen here and stored first (pending); the IM then
//!   registers (or adopts) the account, and its IM user id is recorded.
//!
//! Both name accounts with [`im_username`], so that switching providers
//! later finds the same usernames.

pub mod maxim;
mod self_issued;

pub use maxim::{AdminToken, MaximClient, MaximError, MaximSettings};
pub use self_issued::{SelfIssuedIm, IM_ID_BLOCK_SIZE};

use crate::domain::im_account::{im_username, random_password};
use crate::domain::{ImAccount, UserId};
use crate::store::{BoxError, Store, StoreError};
use std::time::Instant;

pub const DEFAULT_IM_USERNAME_PREFIX: &str = "ql";

/// How IM accounts are made, from the configuration.
#[derive(Clone, Debug)]
pub struct ImSettings {
    /// `im_username` is this prefix + the user id (escaped when needed).
    pub username_prefix: String,
    pub provider: ProviderSettings,
}

#[derive(Clone, Debug)]
pub enum ProviderSettings {
    Local,
    Maxim(MaximSettings),
}

#[derive(Debug, thiserror::Error)]
pub enum ImError {
    /// The table behind the provider failed (the id counter).
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Maxim(#[from] MaximError),
    /// Anything else; retrying will not help.
    #[error("IM provider failure")]
    Other(#[source] BoxError),
}

impl ImError {
    pub fn is_unavailable(&self) -> bool {
        match self {
            ImError::Store(e) => e.is_unavailable(),
            ImError::Maxim(e) => e.is_unavailable(),
            ImError::Other(_) => false,
        }
    }
}

/// Accounts in Lanying IM.
pub struct MaximIm {
    client: MaximClient,
    username_prefix: String,
}

impl MaximIm {
    /// Reads the admin token if it is not in memory yet (init); a failure
    /// is logged, and the first IM call tries again.
    pub async fn read_admin_token(&self) {
        self.client.read_admin_token().await;
    }
}

/// The configured provider.
pub enum ImAccounts {
    SelfIssued(SelfIssuedIm),
    /// Boxed: its HTTP client is large, and there is one per instance.
    Maxim(Box<MaximIm>),
}

impl ImAccounts {
    /// Fails only if the IM client cannot load the system's trust roots.
    pub fn new(settings: ImSettings, store: Store) -> std::io::Result<Self> {
        Ok(match settings.provider {
            ProviderSettings::Local => ImAccounts::SelfIssued(SelfIssuedIm::new(store, settings.username_prefix)),
            ProviderSettings::Maxim(maxim) => ImAccounts::Maxim(Box::new(MaximIm {
                client: MaximClient::new(maxim)?,
                username_prefix: settings.username_prefix,
            })),
        })
    }

    /// One new account per id, in the same order: complete from the
    /// self-issuing provider, pending (credentials chosen, no IM user id
    /// yet) from the IM.
    pub async fn new_accounts(&self, user_ids: &[&UserId]) -> Result<Vec<ImAccount>, ImError> {
        match self {
            ImAccounts::SelfIssued(im) => im.new_accounts(user_ids).await,
            ImAccounts::Maxim(im) => user_ids
                .iter()
                .map(|user_id| {
                    let password = random_password().map_err(|e| ImError::Other(e.into()))?;
                    Ok(ImAccount::pending(im_username(&im.username_prefix, user_id), password))
                })
                .collect(),
        }
    }

    /// Makes a pending account real in the IM, working until `end` at the
    /// latest, and returns its IM user id. `None` when this provider has no
    /// IM to ask (a self-issued account is never pending).
    pub async fn complete(&self, account: &ImAccount, end: Instant) -> Result<Option<i64>, ImError> {
        match self {
            ImAccounts::SelfIssued(_) => Ok(None),
            ImAccounts::Maxim(im) => Ok(Some(
                im.client
                    .ensure_account(&account.im_username, &account.im_password, end)
                    .await?,
            )),
        }
    }
}
