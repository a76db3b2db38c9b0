//! IM accounts: where each new user's IM credentials come from.
//!
//! `IM_PROVIDER=local` (the default): this service issues them itself
//! ([`SelfIssuedIm`]), for deployments without an IM server.

mod self_issued;

pub use self_issued::{SelfIssuedIm, IM_ID_BLOCK_SIZE};

use crate::domain::{ImAccount, UserId};
use crate::store::{BoxError, Store, StoreError};

pub const DEFAULT_IM_USERNAME_PREFIX: &str = "ql";

/// How IM accounts are made, from the configuration.
#[derive(Clone, Debug)]
pub struct ImSettings {
    /// `im_username` is this prefix + the user id.
    pub username_prefix: String,
}

#[derive(Debug, thiserror::Error)]
pub enum ImError {
    /// The table behind the provider failed (the id counter).
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The provider broke a promise of its own; retrying will not help.
    #[error("IM provider failure")]
    Other(#[source] BoxError),
}

impl ImError {
    pub fn is_unavailable(&self) -> bool {
        matches!(self, ImError::Store(e) if e.is_unavailable())
    }
}

/// The configured provider.
pub enum ImAccounts {
    SelfIssued(SelfIssuedIm),
}

impl ImAccounts {
    pub fn new(settings: ImSettings, store: Store) -> Self {
        ImAccounts::SelfIssued(SelfIssuedIm::new(store, settings.username_prefix))
    }

    /// One new account per id, in the same order.
    pub async fn new_accounts(&self, user_ids: &[&UserId]) -> Result<Vec<ImAccount>, ImError> {
        match self {
            ImAccounts::SelfIssued(im) => im.new_accounts(user_ids).await,
        }
    }

    /// Work worth doing before the first request, during Lambda's init.
    pub async fn warm_up(&self) -> Result<(), ImError> {
        match self {
            ImAccounts::SelfIssued(im) => im.lease_first_block().await,
        }
    }
}
