//! The DynamoDB client, built once per Lambda instance from the variables
//! Lambda sets, on the one HTTPS stack of this crate (hyper 1 + rustls on
//! ring), with the time limits below.

use crate::aws::{endpoint_override, AwsEnvironment};
use aws_sdk_dynamodb::config::interceptors::{
    BeforeSerializationInterceptorContextRef, BeforeTransmitInterceptorContextRef,
};
use aws_sdk_dynamodb::config::retry::RetryConfig;
use aws_sdk_dynamodb::config::timeout::TimeoutConfig;
use aws_sdk_dynamodb::config::{BehaviorVersion, ConfigBag, Intercept, Region, RuntimeComponents};
use aws_smithy_http_client::tls::{rustls_provider::CryptoMode, Provider};

/// Limits on each DynamoDB call, chosen so that a stalled DynamoDB costs a
/// request at most `OPERATION_TIMEOUT` per call, well inside the 10 s
/// Lambda timeout; the request's own budget (`edge`) bounds the whole.
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

pub use crate::aws::MissingAwsSetting;

/// A client from the standard AWS variables (`crate::aws`): `AWS_REGION`,
/// the credentials Lambda puts in `AWS_ACCESS_KEY_ID`,
/// `AWS_SECRET_ACCESS_KEY` and `AWS_SESSION_TOKEN`, and
/// `AWS_ENDPOINT_URL_DYNAMODB` (or `AWS_ENDPOINT_URL`) when set.
pub fn dynamodb_client() -> Result<aws_sdk_dynamodb::Client, MissingAwsSetting> {
    dynamodb_client_from(|name| std::env::var(name).ok())
}

/// [`dynamodb_client`] from any variable source.
pub fn dynamodb_client_from(
    var: impl Fn(&str) -> Option<String>,
) -> Result<aws_sdk_dynamodb::Client, MissingAwsSetting> {
    let aws = AwsEnvironment::from_lookup(&var)?;
    let mut config = with_limits(aws_sdk_dynamodb::Config::builder())
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(aws.region))
        .credentials_provider(aws.credentials);
    if let Some(endpoint) = endpoint_override(&var, "DYNAMODB") {
        config = config.endpoint_url(endpoint);
    }
    Ok(aws_sdk_dynamodb::Client::from_conf(config.build()))
}

/// `config` on this crate's HTTPS stack, with the time limits and
/// retries of [`limits`] and the call counting of the metrics; where and
/// as whom it calls are the caller's (the function's environment, or the
/// import tool's whole credential chain).
pub fn with_limits(config: aws_sdk_dynamodb::config::Builder) -> aws_sdk_dynamodb::config::Builder {
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
    config
        .http_client(http_client)
        .timeout_config(timeouts)
        .retry_config(retries)
        .interceptor(CountCalls)
}

/// Counts each call and each attempt of it for the request's metrics
/// (`crate::metrics`): the SDK retries inside a call, out of our sight.
#[derive(Debug)]
struct CountCalls;

impl Intercept for CountCalls {
    fn name(&self) -> &'static str {
        "CountCalls"
    }

    fn read_before_execution(
        &self,
        _context: &BeforeSerializationInterceptorContextRef<'_>,
        _cfg: &mut ConfigBag,
    ) -> Result<(), aws_sdk_dynamodb::error::BoxError> {
        crate::metrics::count_dynamodb_call();
        Ok(())
    }

    fn read_before_attempt(
        &self,
        _context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), aws_sdk_dynamodb::error::BoxError> {
        crate::metrics::count_dynamodb_attempt();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_client_takes_region_credentials_and_endpoint_from_the_variables() {
        assert!(dynamodb_client_from(|_| None)
            .unwrap_err()
            .to_string()
            .contains("AWS_REGION"));
        let vars = [
            ("AWS_DEFAULT_REGION", "eu-west-1"),
            ("AWS_ACCESS_KEY_ID", "a"),
            ("AWS_SECRET_ACCESS_KEY", "s"),
            ("AWS_ENDPOINT_URL_DYNAMODB", "http://127.0.0.1:1"),
        ];
        let client = dynamodb_client_from(|n| vars.iter().find(|(k, _)| *k == n).map(|(_, v)| v.to_string())).unwrap();
        assert_eq!(client.config().region().map(|r| r.as_ref()), Some("eu-west-1"));
    }

    /// In paused time: the SDK's timeouts run on tokio's clock, which
    /// jumps ahead whenever the test only waits.
    #[tokio::test(start_paused = true)]
    async fn a_stalled_call_is_cut_by_the_operation_timeout() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        // A DynamoDB that accepts every connection, keeps it open, and
        // never answers.
        let _accepting = tokio::spawn(async move {
            let mut open = Vec::new();
            while let Ok((socket, _)) = listener.accept().await {
                open.push(socket);
            }
        });
        let vars = [
            ("AWS_REGION", "us-east-1"),
            ("AWS_ACCESS_KEY_ID", "a"),
            ("AWS_SECRET_ACCESS_KEY", "s"),
            ("AWS_ENDPOINT_URL_DYNAMODB", &endpoint),
        ];
        let client = dynamodb_client_from(|n| vars.iter().find(|(k, _)| *k == n).map(|(_, v)| v.to_string())).unwrap();
        let started = tokio::time::Instant::now();
        let result = client.get_item().table_name("users").send().await;
        let elapsed = started.elapsed();
        assert!(result.is_err());
        assert!(
            elapsed >= limits::OPERATION_TIMEOUT
                && elapsed < limits::OPERATION_TIMEOUT + std::time::Duration::from_millis(700),
            "answered after {elapsed:?}"
        );
    }
}
