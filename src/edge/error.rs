//! The one error type of the API. Each variant knows its HTTP status, its
//! envelope `code` and, as its `Display`, the message a client may see;
//! this is the one place where failures become the contract's codes and
//! texts. Internal details stay in the source, which is logged once, when
//! the reply is made (`envelope`), and never sent.

use crate::domain::InvalidInput;
use crate::edge::auth::Rejection;
use crate::error::BoxError;
use crate::usecases::ServiceError;
use lambda_http::http::StatusCode;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// Malformed JSON, wrong types, missing fields, limits exceeded. The text
    /// names the field and says why.
    #[error("{0}")]
    BadRequest(String),
    /// Missing or bad `Authorization`, unknown AK, wrong signature: one
    /// answer for all, so that a caller cannot tell which part failed.
    #[error("bad token")]
    BadToken,
    /// `X-Qiniu-Date` malformed or too far from the server's clock.
    #[error("request expired")]
    RequestExpired,
    /// A batch get whose answer would not fit in Lambda's reply limit: the
    /// caller asked for too much at once, so a 400 that says what to do.
    #[error("user_ids: the answer would exceed Lambda's 6 MB reply limit; ask for fewer users at a time")]
    AnswerTooLarge,
    #[error("user not found")]
    UserNotFound,
    #[error("not found")]
    UnknownPath,
    /// The path exists but not for this method; carries the `Allow` value.
    #[error("method not allowed")]
    MethodNotAllowed(&'static str),
    #[error("user already exists")]
    UserAlreadyExists,
    /// DynamoDB throttled, failing or unreachable after the retries, or the
    /// request ran out of time waiting for it.
    #[error("database unavailable")]
    DatabaseUnavailable(#[source] BoxError),
    /// The keys that signatures are checked with could not be read
    /// (Secrets Manager unreachable since the start): a signed request can
    /// be neither accepted nor refused.
    #[error("authentication unavailable")]
    KeysUnavailable,
    /// Anything unexpected.
    #[error("internal error")]
    Internal(#[source] BoxError),
}

impl ApiError {
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) | ApiError::AnswerTooLarge => StatusCode::BAD_REQUEST,
            ApiError::BadToken => StatusCode::UNAUTHORIZED,
            ApiError::RequestExpired => StatusCode::FORBIDDEN,
            ApiError::UserNotFound | ApiError::UnknownPath => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::UserAlreadyExists => StatusCode::CONFLICT,
            ApiError::DatabaseUnavailable(_) | ApiError::KeysUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The envelope's `code`: the HTTP status, except where the original
    /// service had a code of its own.
    pub fn code(&self) -> u32 {
        match self {
            ApiError::UserAlreadyExists => 10001,
            ApiError::DatabaseUnavailable(_) => 602,
            other => u32::from(other.status().as_u16()),
        }
    }

    pub fn bad_request(why: impl Into<String>) -> Self {
        ApiError::BadRequest(why.into())
    }
}

impl From<InvalidInput> for ApiError {
    fn from(invalid: InvalidInput) -> Self {
        ApiError::BadRequest(invalid.to_string())
    }
}

impl From<Rejection> for ApiError {
    fn from(rejection: Rejection) -> Self {
        match rejection {
            Rejection::BadToken => ApiError::BadToken,
            Rejection::Expired => ApiError::RequestExpired,
        }
    }
}

impl From<ServiceError> for ApiError {
    fn from(error: ServiceError) -> Self {
        match error {
            ServiceError::NotFound => ApiError::UserNotFound,
            ServiceError::AlreadyExists => ApiError::UserAlreadyExists,
            // Merging keys into `extends` can grow an item past DynamoDB's
            // 400 KB; that is the client's request, not our failure.
            ServiceError::TooLarge => {
                ApiError::bad_request("extends: the user record would exceed DynamoDB's item size limit")
            }
            ServiceError::AnswerTooLarge => ApiError::AnswerTooLarge,
            ServiceError::Invalid(invalid) => invalid.into(),
            ServiceError::Unavailable(source) => ApiError::DatabaseUnavailable(source),
            ServiceError::Internal(source) => ApiError::Internal(source),
        }
    }
}

impl From<serde_json::Error> for ApiError {
    fn from(error: serde_json::Error) -> Self {
        ApiError::Internal(error.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_error_has_the_contracts_status_code_and_message() {
        let source = || -> BoxError { "detail".into() };
        let cases = [
            (ApiError::bad_request("nick: x"), 400, 400, "nick: x"),
            (
                ApiError::AnswerTooLarge,
                400,
                400,
                "user_ids: the answer would exceed Lambda's 6 MB reply limit; ask for fewer users at a time",
            ),
            (ApiError::BadToken, 401, 401, "bad token"),
            (ApiError::RequestExpired, 403, 403, "request expired"),
            (ApiError::UserNotFound, 404, 404, "user not found"),
            (ApiError::UnknownPath, 404, 404, "not found"),
            (ApiError::MethodNotAllowed("GET"), 405, 405, "method not allowed"),
            (ApiError::UserAlreadyExists, 409, 10001, "user already exists"),
            (
                ApiError::DatabaseUnavailable(source()),
                503,
                602,
                "database unavailable",
            ),
            (ApiError::KeysUnavailable, 503, 503, "authentication unavailable"),
            (ApiError::Internal(source()), 500, 500, "internal error"),
        ];
        for (error, status, code, message) in cases {
            assert_eq!(
                (error.status().as_u16(), error.code(), error.to_string().as_str()),
                (status, code, message)
            );
        }
    }

    #[test]
    fn service_errors_map_to_the_contract_and_keep_their_source() {
        assert!(matches!(ServiceError::NotFound.into(), ApiError::UserNotFound));
        assert!(matches!(
            ServiceError::AlreadyExists.into(),
            ApiError::UserAlreadyExists
        ));
        let too_large: ApiError = ServiceError::TooLarge.into();
        assert_eq!(too_large.status(), StatusCode::BAD_REQUEST);
        let internal: ApiError = ServiceError::Internal("root cause".into()).into();
        assert_eq!(std::error::Error::source(&internal).unwrap().to_string(), "root cause");
        assert!(!internal.to_string().contains("root cause"));
    }
}
