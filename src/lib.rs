//! The QNLiveKit user service (`/server/user`) as one AWS Lambda function on
//! DynamoDB. `main.rs` wires these modules together; tests and tools use
//! them directly.

pub mod app;
pub mod auth;
pub mod config;
pub mod error;
pub mod im;
pub mod lambda;
pub mod routes;
pub mod store;
pub mod telemetry;
pub mod users;

pub use app::App;
pub use config::Config;

use aws_config::BehaviorVersion;
use aws_smithy_http_client::tls::{rustls_provider::CryptoMode, Provider};

/// Limits on each DynamoDB call, chosen so that a stalled DynamoDB costs a
/// request at most `OPERATION_TIMEOUT` per call, well inside the 10 s
/// Lambda timeout; the request's own budget (see `app.rs`) bounds the whole.
/// DynamoDB answers in milliseconds: these only matter when it does not.
pub mod limits {
    use std::time::Duration;

    /// TCP and TLS set-up; a cold 128 MB instance needs a few hundred ms.
    pub const CONNECT_TIMEOUT: Duration = Duration::from_millis(1_500);
    /// One attempt of one call, from sending to the parsed answer.
    pub const ATTEMPT_TIMEOUT: Duration = Duration::from_millis(1_500);
    /// All attempts of one call, backoff included.
    pub const OPERATION_TIMEOUT: Duration = Duration::from_millis(4_000);
    /// Standard retry mode (throttling and transient errors), 3 attempts.
    pub const MAX_ATTEMPTS: u32 = 3;
    pub const INITIAL_BACKOFF: Duration = Duration::from_millis(25);
    pub const MAX_BACKOFF: Duration = Duration::from_millis(500);
}

/// A DynamoDB client configured from the standard AWS environment
/// (`AWS_REGION`, credentials, `AWS_ENDPOINT_URL_DYNAMODB`), on the one
/// HTTPS stack this crate builds (hyper 1 + rustls with ring), with the
/// timeouts and retries of [`limits`].
pub async fn dynamodb_client() -> aws_sdk_dynamodb::Client {
    let http_client = aws_smithy_http_client::Builder::new()
        .tls_provider(Provider::Rustls(CryptoMode::Ring))
        .build_https();
    let timeouts = aws_config::timeout::TimeoutConfig::builder()
        .connect_timeout(limits::CONNECT_TIMEOUT)
        .operation_attempt_timeout(limits::ATTEMPT_TIMEOUT)
        .operation_timeout(limits::OPERATION_TIMEOUT)
        .build();
    let retries = aws_config::retry::RetryConfig::standard()
        .with_max_attempts(limits::MAX_ATTEMPTS)
        .with_initial_backoff(limits::INITIAL_BACKOFF)
        .with_max_backoff(limits::MAX_BACKOFF);
    let sdk_config = aws_config::defaults(BehaviorVersion::latest())
        .http_client(http_client)
        .timeout_config(timeouts)
        .retry_config(retries)
        .load()
        .await;
    aws_sdk_dynamodb::Client::new(&sdk_config)
}
