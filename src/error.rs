//! The one error type of the API. Each variant knows its HTTP status, its
//! envelope `code` and the message a client may see; details of internal
//! failures go to the log, never to the client.

use lambda_http::http::StatusCode;
use std::borrow::Cow;

#[derive(Debug)]
pub enum ApiError {
    /// Malformed JSON, wrong types, missing fields, limits exceeded. The text
    /// names the field and says why.
    BadRequest(String),
    /// Missing or bad `Authorization`, unknown AK, wrong signature: one
    /// answer for all, so that a caller cannot tell which part failed.
    BadToken,
    /// `X-Qiniu-Date` malformed or too far from the server's clock.
    RequestExpired,
    UserNotFound,
    UnknownPath,
    /// The path exists but not for this method; carries the `Allow` value.
    MethodNotAllowed(&'static str),
    UserAlreadyExists,
    /// DynamoDB throttled or unreachable after the SDK's retries.
    DatabaseUnavailable,
    /// Anything unexpected. The detail is logged where the error is made.
    Internal,
}

impl ApiError {
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::BadToken => StatusCode::UNAUTHORIZED,
            ApiError::RequestExpired => StatusCode::FORBIDDEN,
            ApiError::UserNotFound | ApiError::UnknownPath => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::UserAlreadyExists => StatusCode::CONFLICT,
            ApiError::DatabaseUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The envelope's `code`: the HTTP status, except where the original
    /// service had a code of its own.
    pub fn code(&self) -> u32 {
        match self {
            ApiError::UserAlreadyExists => 10001,
            ApiError::DatabaseUnavailable => 602,
            other => u32::from(other.status().as_u16()),
        }
    }

    pub fn message(&self) -> Cow<'_, str> {
        match self {
            ApiError::BadRequest(why) => Cow::Borrowed(why),
            ApiError::BadToken => "bad token".into(),
            ApiError::RequestExpired => "request expired".into(),
            ApiError::UserNotFound => "user not found".into(),
            ApiError::UnknownPath => "not found".into(),
            ApiError::MethodNotAllowed(_) => "method not allowed".into(),
            ApiError::UserAlreadyExists => "user already exists".into(),
            ApiError::DatabaseUnavailable => "database unavailable".into(),
            ApiError::Internal => "internal error".into(),
        }
    }

    pub fn bad_request(why: impl Into<String>) -> Self {
        ApiError::BadRequest(why.into())
    }
}
