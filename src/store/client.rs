//! The DynamoDB client, built once per Lambda instance from the variables
//! Lambda sets, on the one HTTPS stack of this crate (hyper 1 + rustls on
//! ring), with the time limits below.

use aws_sdk_dynamodb::config::interceptors::{
    BeforeSerializationInterceptorContextRef, BeforeTransmitInterceptorContextRef,
};
use aws_sdk_dynamodb::config::retry::RetryConfig;
use aws_sdk_dynamodb::config::timeout::TimeoutConfig;
use aws_sdk_dynamodb::config::{BehaviorVersion, ConfigBag, Credentials, Intercept, Region, RuntimeComponents};
use aws_smithy_http_client::tls::{rustls_provider::CryptoMode, Provider};
use std::fmt;

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

/// A variable Lambda always sets is missing (outside Lambda: export it).
#[derive(Debug)]
pub struct MissingAwsSetting(&'static str);

impl fmt::Display for MissingAwsSetting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

impl std::error::Error for MissingAwsSetting {}

/// A client from the standard AWS variables: `AWS_REGION`, the credentials
/// Lambda puts in `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` and
/// `AWS_SESSION_TOKEN`, and `AWS_ENDPOINT_URL_DYNAMODB` (or
/// `AWS_ENDPOINT_URL`) when set.
///
/// This is what `aws-config` would find in a Lambda, without its profile
/// files, SSO, STS and instance-metadata providers: measured, those take a
/// third of the start-up time and a megabyte of the binary (BENCHMARKS.md).
pub fn dynamodb_client() -> Result<aws_sdk_dynamodb::Client, MissingAwsSetting> {
    dynamodb_client_from(|name| std::env::var(name).ok())
}

/// [`dynamodb_client`] from any variable source.
pub fn dynamodb_client_from(
    var: impl Fn(&str) -> Option<String>,
) -> Result<aws_sdk_dynamodb::Client, MissingAwsSetting> {
    let var = |name: &str| var(name).filter(|v| !v.is_empty());
    let region = var("AWS_REGION")
        .or_else(|| var("AWS_DEFAULT_REGION"))
        .ok_or(MissingAwsSetting(
            "AWS_REGION is not set (Lambda sets it; locally, export it)",
        ))?;
    let (Some(access_key), Some(secret_key)) = (var("AWS_ACCESS_KEY_ID"), var("AWS_SECRET_ACCESS_KEY")) else {
        return Err(MissingAwsSetting(
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
        .retry_config(retries)
        .interceptor(CountCalls);
    if let Some(endpoint) = var("AWS_ENDPOINT_URL_DYNAMODB").or_else(|| var("AWS_ENDPOINT_URL")) {
        config = config.endpoint_url(endpoint);
    }
    Ok(aws_sdk_dynamodb::Client::from_conf(config.build()))
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
    fn region_and_credentials_are_required_and_named() {
        let none = dynamodb_client_from(|_| None).unwrap_err().to_string();
        assert!(none.contains("AWS_REGION"), "{none}");
        let region_only = dynamodb_client_from(|n| (n == "AWS_REGION").then(|| "us-east-1".into()))
            .unwrap_err()
            .to_string();
        assert!(region_only.contains("AWS_ACCESS_KEY_ID"), "{region_only}");
    }

    #[test]
    fn the_region_may_come_from_aws_default_region() {
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
