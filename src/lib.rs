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

use aws_sdk_dynamodb::config::retry::RetryConfig;
use aws_sdk_dynamodb::config::timeout::TimeoutConfig;
use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region};
use aws_smithy_http_client::tls::{rustls_provider::CryptoMode, Provider};
use config::ConfigError;

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

/// A DynamoDB client from the standard AWS variables: `AWS_REGION`, the
/// credentials Lambda puts in `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`
/// and `AWS_SESSION_TOKEN`, and `AWS_ENDPOINT_URL_DYNAMODB` (or
/// `AWS_ENDPOINT_URL`) when set, on the one HTTPS stack this crate builds
/// (hyper 1 + rustls with ring) with the limits above.
///
/// This is what `aws-config` would find in a Lambda, without its profile
/// files, SSO, STS and instance-metadata providers: measured, it takes a
/// third of the start-up time and a megabyte of the binary (BENCHMARKS.md).
pub fn dynamodb_client() -> Result<aws_sdk_dynamodb::Client, ConfigError> {
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    let region = var("AWS_REGION")
        .or_else(|| var("AWS_DEFAULT_REGION"))
        .ok_or_else(|| ConfigError::new("AWS_REGION is not set (Lambda sets it; locally, export it)"))?;
    let (Some(access_key), Some(secret_key)) = (var("AWS_ACCESS_KEY_ID"), var("AWS_SECRET_ACCESS_KEY")) else {
        return Err(ConfigError::new(
            "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are not set (Lambda sets them from the function's role)",
        ));
    };
    let credentials = Credentials::new(access_key, secret_key, var("AWS_SESSION_TOKEN"), None, "environment");

    let http_client = aws_smithy_http_client::Builder::new()
        .tls_provider(Provider::Rustls(CryptoMode::Ring))
        .build_https();
    let timeouts = TimeoutConfig::builder()
        .connect_timeout(limits::CONNECT_TIMEOUT)
        .operation_attempt_timeout(limits::ATTEMPT_TIMEOUT)
        .operation_timeout(limits::OPERATION_TIMEOUT)
        .build();
    let retries = RetryConfig::standard()
        .with_max_attempts(limits::MAX_ATTEMPTS)
        .with_initial_backoff(limits::INITIAL_BACKOFF)
        .with_max_backoff(limits::MAX_BACKOFF);
    let mut config = aws_sdk_dynamodb::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(region))
        .credentials_provider(credentials)
        .http_client(http_client)
        .timeout_config(timeouts)
        .retry_config(retries);
    if let Some(endpoint) = var("AWS_ENDPOINT_URL_DYNAMODB").or_else(|| var("AWS_ENDPOINT_URL")) {
        config = config.endpoint_url(endpoint);
    }
    Ok(aws_sdk_dynamodb::Client::from_conf(config.build()))
}
