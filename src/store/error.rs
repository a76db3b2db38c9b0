//! What can go wrong with the table, in the store's own terms. Nothing here
//! is written for a client: the edge decides what a caller is told.

use crate::domain::InvalidInput;
use crate::error::BoxError;
use aws_sdk_dynamodb::config::http::HttpResponse;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A create found the key taken by another write than this one.
    #[error("the item already exists")]
    Conflict,
    /// A change found no item to change.
    #[error("no such item")]
    NotFound,
    /// The change breaks a rule of the domain that only the stored item can
    /// tell (how many `extends` entries the merge makes).
    #[error(transparent)]
    Invalid(#[from] InvalidInput),
    /// A read brought more than its caller said it could use.
    #[error("the items read exceed what the caller can use")]
    ReadTooLarge,
    /// The write would take the item past DynamoDB's 400 KB.
    #[error("the item would exceed DynamoDB's item size limit")]
    TooLarge,
    /// Throttled, a 5xx, timed out or unreachable after the SDK's retries,
    /// or unprocessed after ours: worth trying again later.
    #[error("DynamoDB {operation} unavailable")]
    Unavailable {
        operation: &'static str,
        #[source]
        source: BoxError,
    },
    /// Anything else (a missing table, denied access, an item this code
    /// cannot read): retrying will not help.
    #[error("DynamoDB {operation} failed")]
    Other {
        operation: &'static str,
        #[source]
        source: BoxError,
    },
}

impl StoreError {
    pub fn is_unavailable(&self) -> bool {
        matches!(self, StoreError::Unavailable { .. })
    }

    pub(super) fn other(operation: &'static str, source: impl Into<BoxError>) -> Self {
        StoreError::Other {
            operation,
            source: source.into(),
        }
    }

    pub(super) fn unavailable(operation: &'static str, source: impl Into<BoxError>) -> Self {
        StoreError::Unavailable {
            operation,
            source: source.into(),
        }
    }

    /// Sorts an SDK failure: throttling, 5xx answers, timeouts and
    /// connection failures that outlived the SDK's retries are
    /// `Unavailable`; the rest is `Other`.
    pub fn from_sdk<E>(operation: &'static str, error: SdkError<E, HttpResponse>) -> Self
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        let transient = match &error {
            SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => true,
            SdkError::ServiceError(service) => {
                service.raw().status().is_server_error()
                    || matches!(
                        service.err().code(),
                        Some(
                            "ThrottlingException"
                                | "ProvisionedThroughputExceededException"
                                | "RequestLimitExceeded"
                                | "InternalServerError"
                                | "ServiceUnavailable"
                        )
                    )
            }
            _ => false,
        };
        if transient {
            StoreError::unavailable(operation, error)
        } else {
            StoreError::other(operation, error)
        }
    }
}

/// The write's condition (exists / does not exist) did not hold.
pub fn failed_condition<E: ProvideErrorMetadata, R>(error: &SdkError<E, R>) -> bool {
    error.as_service_error().and_then(|e| e.code()) == Some("ConditionalCheckFailedException")
}

/// DynamoDB's answer to an item over 400 KB: a `ValidationException` whose
/// message starts "Item size has exceeded the maximum allowed size".
pub(super) fn is_item_too_large<E: ProvideErrorMetadata, R>(error: &SdkError<E, R>) -> bool {
    error.as_service_error().is_some_and(|e| {
        e.code() == Some("ValidationException") && e.message().is_some_and(|m| m.contains("Item size"))
    })
}
