//! The use cases, one file per endpoint: typed input in, typed output out,
//! no Lambda or HTTP types, so that each can be called and tested on its
//! own. They know the store and the IM provider; the edge knows them.

mod read;
mod register;
mod register_batch;
mod update;

pub use register_batch::{BatchRegistration, Reason};

use crate::im::{ImAccounts, ImError};
use crate::store::{BoxError, Store, StoreError};

/// The user service: every endpoint's logic over one table and one IM
/// provider.
pub struct UserService {
    store: Store,
    im: ImAccounts,
}

/// Why a use case failed, in the service's own terms; the edge turns it
/// into the contract's reply.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error("user not found")]
    NotFound,
    #[error("user already exists")]
    AlreadyExists,
    /// The change would take the stored user past DynamoDB's item size.
    #[error("the user record would exceed the item size limit")]
    TooLarge,
    /// DynamoDB (or the IM) is throttled, failing or unreachable: worth
    /// trying again later.
    #[error("a dependency is unavailable")]
    Unavailable(#[source] BoxError),
    /// Anything else; the source says what.
    #[error("unexpected failure")]
    Internal(#[source] BoxError),
}

impl From<StoreError> for ServiceError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::Conflict => ServiceError::AlreadyExists,
            StoreError::NotFound => ServiceError::NotFound,
            StoreError::TooLarge => ServiceError::TooLarge,
            StoreError::Unavailable { .. } => ServiceError::Unavailable(error.into()),
            StoreError::Other { .. } => ServiceError::Internal(error.into()),
        }
    }
}

impl From<ImError> for ServiceError {
    fn from(error: ImError) -> Self {
        match error {
            ImError::Store(error) => error.into(),
            ImError::Other(_) => ServiceError::Internal(error.into()),
        }
    }
}

impl UserService {
    pub fn new(store: Store, im: ImAccounts) -> Self {
        UserService { store, im }
    }

    /// Work worth doing during Lambda's init, before any request: opens the
    /// DynamoDB connection and readies the IM provider.
    pub async fn warm_up(&self) -> Result<(), ServiceError> {
        Ok(self.im.warm_up().await?)
    }
}

/// The IM provider returned fewer accounts than users.
#[derive(Debug, thiserror::Error)]
#[error("the IM provider returned {got} accounts for {wanted} users")]
struct AccountsMissing {
    wanted: usize,
    got: usize,
}
