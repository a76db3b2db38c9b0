//! The use cases, one file per endpoint: typed input in, typed output out,
//! no Lambda or HTTP types, so that each can be called and tested on its
//! own. They know the store and the IM provider; the edge knows them.

mod read;
mod register;
mod register_batch;
#[cfg(test)]
pub mod testing;
mod update;

pub use register_batch::{BatchRegistration, Reason};

use crate::domain::{ImAccount, InvalidInput, UserId};
use crate::error::BoxError;
use crate::im::{ImAccounts, ImError};
use crate::store::{Store, StoreError};
use crate::telemetry::ErrorChain;
use std::time::Duration;
use tokio::time::Instant;

/// How long a register may spend on the IM step, retries included, before
/// the user is left with its account pending (and the reply sent).
const IM_STEP_ON_REGISTER: Duration = Duration::from_secs(4);
/// How long a read may spend completing pending IM accounts.
const IM_STEP_ON_READ: Duration = Duration::from_millis(1_500);
/// IM calls in flight at once for one request (batch register, batch reads).
const IM_CONCURRENCY: usize = 16;

/// The user service: every endpoint's logic over one table and one IM
/// provider.
pub struct UserService {
    store: Store,
    im: ImAccounts,
}

/// Why a use case failed, in the service's own terms; the edge turns it
/// into the contract's reply. It is where the store's and the IM's
/// failures meet (an IM error may be a store error underneath), so that
/// the edge knows the use cases and neither of the layers below; its
/// variants follow the store's because most failures are the table's.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error("user not found")]
    NotFound,
    #[error("user already exists")]
    AlreadyExists,
    /// The change breaks a rule that only the stored user can tell.
    #[error(transparent)]
    Invalid(InvalidInput),
    /// The change would take the stored user past DynamoDB's item size.
    #[error("the user record would exceed the item size limit")]
    TooLarge,
    /// The users asked for would not fit in the answer's size limit.
    #[error("the users asked for exceed the answer's size limit")]
    AnswerTooLarge,
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
            StoreError::Invalid(invalid) => ServiceError::Invalid(invalid),
            StoreError::ReadTooLarge => ServiceError::AnswerTooLarge,
            StoreError::Unavailable { .. } => ServiceError::Unavailable(error.into()),
            StoreError::Other { .. } => ServiceError::Internal(error.into()),
        }
    }
}

impl From<ImError> for ServiceError {
    fn from(error: ImError) -> Self {
        match error {
            ImError::Store(error) => error.into(),
            ImError::Maxim(_) if error.is_unavailable() => ServiceError::Unavailable(error.into()),
            ImError::Maxim(_) | ImError::Other(_) => ServiceError::Internal(error.into()),
        }
    }
}

impl UserService {
    pub fn new(store: Store, im: ImAccounts) -> Self {
        UserService { store, im }
    }

    /// Work worth doing during Lambda's init, before any request: opens the
    /// DynamoDB connection, leasing the first IM-id block when ids are
    /// issued here, and reads the IM's admin token when it comes from
    /// Secrets Manager.
    pub async fn warm_up(&self) -> Result<(), ServiceError> {
        Ok(self.im.warm_up().await?)
    }

    /// Makes a stored user's pending IM account real (registered or adopted
    /// in the IM, until `end` at the latest) and records its IM user id.
    /// Best effort: the user is stored either way, and on failure stays
    /// pending for a later read to complete; the failure is logged here,
    /// where it stops being an error.
    async fn complete_im_account(&self, user_id: &UserId, account: &ImAccount, end: Instant) -> ImStep {
        let im_userid = match self.im.complete(account, end).await {
            Ok(Some(im_userid)) => im_userid,
            Ok(None) => return ImStep::Pending { im_unavailable: false },
            Err(error) if error.is_unavailable() => {
                tracing::warn!(%user_id, error = %ErrorChain(&error), "IM unavailable: the IM account stays pending");
                return ImStep::Pending { im_unavailable: true };
            }
            Err(error) => {
                tracing::error!(%user_id, error = %ErrorChain(&error), "IM refused: the IM account stays pending");
                return ImStep::Pending { im_unavailable: false };
            }
        };
        match self
            .store
            .record_im_userid(user_id, &account.im_password, im_userid)
            .await
        {
            Ok(()) => ImStep::Completed(im_userid),
            Err(error) => {
                tracing::warn!(%user_id, error = %ErrorChain(&error), "could not record the IM user id: it stays pending");
                ImStep::Pending { im_unavailable: false }
            }
        }
    }
}

/// How completing a pending IM account went.
enum ImStep {
    Completed(i64),
    /// Still pending; `im_unavailable` when the IM did not answer (rather
    /// than refused, or there is no IM to ask).
    Pending {
        im_unavailable: bool,
    },
}

/// `now + limit`, but never past `end`.
fn until(limit: Duration, end: Instant) -> Instant {
    (Instant::now() + limit).min(end)
}

/// The IM provider returned fewer accounts than users.
#[derive(Debug, thiserror::Error)]
#[error("the IM provider returned {got} accounts for {wanted} users")]
struct AccountsMissing {
    wanted: usize,
    got: usize,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::im::MaximError;

    fn service_error(error: MaximError) -> ServiceError {
        ImError::from(error).into()
    }

    #[test]
    fn an_im_that_did_not_answer_is_unavailable_and_one_that_refused_is_internal() {
        let unavailable = MaximError::Unavailable {
            call: "register",
            source: "timed out".into(),
        };
        let refused = MaximError::Refused {
            call: "register",
            code: 10008,
        };
        let unreadable = MaximError::Unreadable {
            call: "register",
            source: "not JSON".into(),
        };
        assert!(matches!(service_error(unavailable), ServiceError::Unavailable(_)));
        assert!(matches!(service_error(refused), ServiceError::Internal(_)));
        assert!(matches!(service_error(unreadable), ServiceError::Internal(_)));
        assert!(matches!(
            ServiceError::from(ImError::Other("no randomness".into())),
            ServiceError::Internal(_)
        ));
    }
}
