//! IM accounts: where each new user's IM credentials come from.
//!
//! - `IM_PROVIDER=local` (the default): this service issues them itself
//!   ([`SelfIssuedIm`]), for running without an IM server.
//! - `IM_PROVIDER=maxim`: Lanying IM ([`MaximIm`]), the IM of the
//!   QNLiveKit platform, whose accounts the client SDKs log in to.
//!
//! Both have the same calls (`warm_up`, `new_accounts`, `complete`) and
//! name accounts with `domain::im_account::im_username`, so that switching
//! providers later finds the same usernames. Only this file knows which
//! provider is configured.

mod maxim;
mod maxim_client;
#[cfg(test)]
pub mod scripted_maxim;
mod self_issued;

pub use maxim::MaximIm;
pub use maxim_client::{AdminToken, MaximClient, MaximError, MaximSettings};
pub use self_issued::{SelfIssuedIm, IM_ID_BLOCK_SIZE};

use crate::domain::{ImAccount, UserId};
use crate::error::BoxError;
use crate::store::{Store, StoreError};
use tokio::time::Instant;

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

/// The configured provider.
pub enum ImAccounts {
    SelfIssued(SelfIssuedIm),
    /// Boxed: its HTTP client is large, and there is one per instance.
    Maxim(Box<MaximIm>),
}

/// Calls the same method on whichever provider is configured.
macro_rules! delegate {
    ($self:ident . $method:ident ( $($arg:expr),* )) => {
        match $self {
            ImAccounts::SelfIssued(im) => im.$method($($arg),*).await,
            ImAccounts::Maxim(im) => im.$method($($arg),*).await,
        }
    };
}

impl ImAccounts {
    /// Fails only if the IM client cannot load the system's trust roots.
    pub fn new(settings: ImSettings, store: Store) -> std::io::Result<Self> {
        Ok(match settings.provider {
            ProviderSettings::Local => ImAccounts::SelfIssued(SelfIssuedIm::new(store, settings.username_prefix)),
            ProviderSettings::Maxim(maxim) => ImAccounts::Maxim(Box::new(MaximIm::new(
                MaximClient::new(maxim)?,
                store,
                settings.username_prefix,
            ))),
        })
    }

    /// Lanying IM behind a scripted server, for unit tests.
    #[cfg(test)]
    pub fn scripted_maxim(server: std::sync::Arc<scripted_maxim::ScriptedMaxim>, store: Store) -> Self {
        let client = MaximClient::scripted(server);
        ImAccounts::Maxim(Box::new(MaximIm::new(client, store, DEFAULT_IM_USERNAME_PREFIX.into())))
    }

    /// Work worth doing during Lambda's init, before any request: opens the
    /// DynamoDB connection, leasing the first IM-id block when ids are
    /// issued here.
    pub async fn warm_up(&self) -> Result<(), ImError> {
        delegate!(self.warm_up())
    }

    /// One new account per id, in the same order: complete from the
    /// self-issuing provider, pending (credentials chosen, no IM user id
    /// yet) from the IM.
    pub async fn new_accounts(&self, user_ids: &[&UserId]) -> Result<Vec<ImAccount>, ImError> {
        delegate!(self.new_accounts(user_ids))
    }

    /// Makes a pending account real in the IM, working until `end` at the
    /// latest, and returns its IM user id. `None` when this provider has no
    /// IM to ask (a self-issued account is never pending).
    pub async fn complete(&self, account: &ImAccount, end: Instant) -> Result<Option<i64>, ImError> {
        delegate!(self.complete(account, end))
    }
}
