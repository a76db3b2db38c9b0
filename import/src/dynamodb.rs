//! DynamoDB as the operator's own AWS tools reach it: `aws-config`'s
//! default chain (a profile from `AWS_PROFILE`, with SSO or a role to
//! assume; web identity in CI; container and instance credentials; the
//! environment variables), the region from the environment or the
//! profile, and `AWS_ENDPOINT_URL_DYNAMODB`. Not `credential_process`
//! (import/Cargo.toml says why): run such a profile under its tool
//! (`aws-vault exec`) or export its credentials. The
//! Lambda keeps its lean client (`qnlive_user_api::aws`): this crate
//! alone links `aws-config`.
//!
//! The client's time limits and retries are the service's own
//! (`store::client::with_limits`).

use aws_config::BehaviorVersion;
use aws_credential_types::provider::ProvideCredentials;
use aws_smithy_http_client::tls::{rustls_provider::CryptoMode, Provider};
use qnlive_user_api::store::client::with_limits;
use qnlive_user_api::telemetry::ErrorChain;
use std::time::Duration;

/// How long the credential chain may look for credentials before the run
/// stops: its last resort, the EC2 instance metadata service, can take a
/// while to fail away from EC2.
const FIND_CREDENTIALS_LIMIT: Duration = Duration::from_secs(10);

/// What to set when no credentials or region are found, in one line.
const WHAT_TO_SET: &str = "set AWS_PROFILE (a profile of ~/.aws/config, SSO or a role to assume included; \
     `aws sso login` first for SSO) or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY";

/// A client, once credentials were found; else the error line saying
/// what to set.
pub async fn client() -> Result<aws_sdk_dynamodb::Client, String> {
    let http_client = aws_smithy_http_client::Builder::new()
        .tls_provider(Provider::Rustls(CryptoMode::Ring))
        .build_https();
    let config = aws_config::defaults(BehaviorVersion::latest())
        .http_client(http_client)
        .load()
        .await;
    if config.region().is_none() {
        return Err("no AWS region: set AWS_REGION, or a region in the profile (AWS_PROFILE) in ~/.aws/config".into());
    }
    let credentials = config
        .credentials_provider()
        .ok_or_else(|| format!("no AWS credentials: {WHAT_TO_SET}"))?;
    match tokio::time::timeout(FIND_CREDENTIALS_LIMIT, credentials.provide_credentials()).await {
        Ok(Ok(_)) => {}
        Ok(Err(e)) => return Err(format!("no AWS credentials found: {WHAT_TO_SET} ({})", ErrorChain(&e))),
        Err(_) => {
            return Err(format!(
                "no AWS credentials found within {} s: {WHAT_TO_SET}",
                FIND_CREDENTIALS_LIMIT.as_secs()
            ))
        }
    }
    let dynamodb = with_limits(aws_sdk_dynamodb::config::Builder::from(&config));
    Ok(aws_sdk_dynamodb::Client::from_conf(dynamodb.build()))
}
