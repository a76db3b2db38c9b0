//! The standard AWS variables a Lambda function is given, read the same
//! way for each AWS service the function calls (DynamoDB in `store`,
//! Secrets Manager in `secrets`): the region, the role's credentials, and
//! an endpoint per service for local runs.
//!
//! This is what `aws-config` would find in a Lambda, without its profile
//! files, SSO, STS and instance-metadata providers: measured, those take a
//! third of the start-up time and a megabyte of the binary (BENCHMARKS.md).
//! The import tool, run by operators, uses `aws-config`'s whole chain.

use aws_credential_types::Credentials;
use std::fmt;

/// A variable Lambda always sets is missing (outside Lambda: export it).
#[derive(Debug)]
pub struct MissingAwsSetting(&'static str);

impl fmt::Display for MissingAwsSetting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

impl std::error::Error for MissingAwsSetting {}

/// Where and as whom the function calls AWS.
#[derive(Clone, Debug)]
pub struct AwsEnvironment {
    /// `AWS_REGION` (or `AWS_DEFAULT_REGION`).
    pub region: String,
    /// `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`:
    /// the function's role, put there by Lambda. Its `Debug` hides them.
    pub credentials: Credentials,
}

impl AwsEnvironment {
    /// From any variable source, so that tests need not change the
    /// process environment.
    pub fn from_lookup(var: impl Fn(&str) -> Option<String>) -> Result<Self, MissingAwsSetting> {
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
        Ok(AwsEnvironment { region, credentials })
    }
}

/// The endpoint of one service when it is not AWS's own (DynamoDB Local,
/// a local Secrets Manager): `AWS_ENDPOINT_URL_<SERVICE>`, else
/// `AWS_ENDPOINT_URL`, as the AWS SDKs read them. `service` is the
/// variable's suffix, `DYNAMODB` or `SECRETSMANAGER`.
pub fn endpoint_override(var: impl Fn(&str) -> Option<String>, service: &str) -> Option<String> {
    let var = |name: &str| var(name).filter(|v| !v.is_empty());
    var(&format!("AWS_ENDPOINT_URL_{service}")).or_else(|| var("AWS_ENDPOINT_URL"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lookup(vars: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |name| vars.iter().find(|(k, _)| *k == name).map(|(_, v)| v.to_string())
    }

    #[test]
    fn region_and_credentials_are_required_and_named() {
        let none = AwsEnvironment::from_lookup(|_| None).unwrap_err().to_string();
        assert!(none.contains("AWS_REGION"), "{none}");
        let region_only = AwsEnvironment::from_lookup(lookup(&[("AWS_REGION", "us-east-1")]))
            .unwrap_err()
            .to_string();
        assert!(region_only.contains("AWS_ACCESS_KEY_ID"), "{region_only}");
    }

    #[test]
    fn the_region_may_come_from_aws_default_region_and_credentials_keep_the_session_token() {
        let aws = AwsEnvironment::from_lookup(lookup(&[
            ("AWS_DEFAULT_REGION", "eu-west-1"),
            ("AWS_ACCESS_KEY_ID", "a"),
            ("AWS_SECRET_ACCESS_KEY", "s-secret"),
            ("AWS_SESSION_TOKEN", "t"),
        ]))
        .unwrap();
        assert_eq!(aws.region, "eu-west-1");
        assert_eq!(
            (aws.credentials.access_key_id(), aws.credentials.session_token()),
            ("a", Some("t"))
        );
        assert!(!format!("{aws:?}").contains("s-secret"));
    }

    #[test]
    fn a_service_endpoint_wins_over_the_general_one() {
        let both = lookup(&[
            ("AWS_ENDPOINT_URL", "http://127.0.0.1:1"),
            ("AWS_ENDPOINT_URL_SECRETSMANAGER", "http://127.0.0.1:2"),
        ]);
        assert_eq!(
            endpoint_override(&both, "SECRETSMANAGER").as_deref(),
            Some("http://127.0.0.1:2")
        );
        assert_eq!(
            endpoint_override(&both, "DYNAMODB").as_deref(),
            Some("http://127.0.0.1:1")
        );
        assert_eq!(endpoint_override(|_| None, "DYNAMODB"), None);
    }
}
