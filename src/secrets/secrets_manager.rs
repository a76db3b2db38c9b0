//! Secrets Manager's `GetSecretValue`, the one call the function makes to
//! it: a JSON POST signed with SigV4 by `aws-sigv4` (the SDK's own signer,
//! already in the binary for DynamoDB), sent over the hyper + rustls stack
//! the crate already has. BENCHMARKS.md has why this and not the SDK's
//! Secrets Manager client (127 KB of bootstrap, over the size budget) or
//! the Parameters and Secrets Lambda Extension (a layer per region).
//!
//! Its errors carry Secrets Manager's error type and message (which name
//! the secret and the role, never a value) and never the answer's body.

use crate::aws::{endpoint_override, AwsEnvironment};
use aws_sigv4::http_request::{sign, SignableBody, SignableRequest, SigningSettings};
use aws_sigv4::sign::v4;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Request, StatusCode, Uri};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde::Deserialize;
use std::sync::Arc;
use std::time::SystemTime;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A Secrets Manager client. Cloning shares its connections.
#[derive(Clone)]
pub struct SecretsManager {
    http: Client<HttpsConnector<HttpConnector>, Full<Bytes>>,
    inner: Arc<Settings>,
}

struct Settings {
    aws: AwsEnvironment,
    /// `https://secretsmanager.<region>.amazonaws.com/`, or the override.
    endpoint: Uri,
}

#[derive(Debug, thiserror::Error)]
pub enum SecretsManagerError {
    #[error("Secrets Manager could not be reached")]
    Unreachable(#[source] BoxError),
    /// `AccessDeniedException` (the role may not read it, or not decrypt
    /// it), `ResourceNotFoundException`, throttling...
    #[error("Secrets Manager answered HTTP {status}, {error_type}: {message}")]
    Refused {
        status: u16,
        error_type: String,
        message: String,
    },
    #[error("Secrets Manager gave an answer without a SecretString (a binary secret?)")]
    NotText,
    #[error("Secrets Manager gave an unreadable answer")]
    Unreadable(#[source] BoxError),
}

/// The parts of an answer that are read.
#[derive(Deserialize)]
struct Answer {
    #[serde(rename = "SecretString")]
    secret_string: Option<String>,
}

#[derive(Deserialize)]
struct ErrorAnswer {
    #[serde(rename = "__type", default)]
    error_type: String,
    #[serde(alias = "Message", default)]
    message: String,
}

impl SecretsManager {
    /// From the standard AWS variables (`crate::aws`), with
    /// `AWS_ENDPOINT_URL_SECRETSMANAGER` for a local Secrets Manager.
    /// Fails on a missing or malformed variable, or if the system's trust
    /// roots cannot be loaded; the message names the variable.
    pub fn from_lookup(var: impl Fn(&str) -> Option<String>) -> Result<Self, BoxError> {
        let aws = AwsEnvironment::from_lookup(&var)?;
        let endpoint = endpoint_override(&var, "SECRETSMANAGER").unwrap_or_else(|| default_endpoint(&aws.region));
        let endpoint = format!("{}/", endpoint.trim_end_matches('/'))
            .parse::<Uri>()
            .ok()
            .filter(|uri| uri.host().is_some())
            .ok_or("AWS_ENDPOINT_URL_SECRETSMANAGER is not a URL like http://127.0.0.1:5000")?;
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_provider_and_native_roots(rustls::crypto::ring::default_provider())
            .map_err(|e| format!("the system's TLS trust roots could not be loaded: {e}"))?
            .https_or_http()
            .enable_http1()
            .build();
        Ok(SecretsManager {
            http: Client::builder(TokioExecutor::new()).build(connector),
            inner: Arc::new(Settings { aws, endpoint }),
        })
    }

    /// The text of the secret `secret_id` (name or ARN), its current
    /// version. One attempt: the caller's policy decides when to try again.
    pub async fn secret_string(&self, secret_id: &str) -> Result<String, SecretsManagerError> {
        let request = self
            .signed_request(secret_id)
            .map_err(SecretsManagerError::Unreadable)?;
        let exchange = async {
            let response = self.http.request(request).await?;
            let status = response.status();
            let body = response.into_body().collect().await?.to_bytes();
            Ok::<_, BoxError>((status, body))
        };
        let (status, body) = exchange.await.map_err(SecretsManagerError::Unreachable)?;
        if status != StatusCode::OK {
            let error: ErrorAnswer = serde_json::from_slice(&body).unwrap_or(ErrorAnswer {
                error_type: String::new(),
                message: String::new(),
            });
            return Err(SecretsManagerError::Refused {
                status: status.as_u16(),
                // "com.amazonaws...#AccessDeniedException" in some answers.
                error_type: error.error_type.rsplit('#').next().unwrap_or_default().to_owned(),
                message: error.message,
            });
        }
        let answer: Answer = serde_json::from_slice(&body).map_err(|e| SecretsManagerError::Unreadable(e.into()))?;
        answer.secret_string.ok_or(SecretsManagerError::NotText)
    }

    fn signed_request(&self, secret_id: &str) -> Result<Request<Full<Bytes>>, BoxError> {
        let Settings { aws, endpoint } = self.inner.as_ref();
        let body = serde_json::json!({ "SecretId": secret_id }).to_string();
        let host = endpoint.authority().map_or("", |a| a.as_str());
        let headers = [
            ("host", host),
            ("content-type", "application/x-amz-json-1.1"),
            ("x-amz-target", "secretsmanager.GetSecretValue"),
        ];
        let identity = aws.credentials.clone().into();
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region(&aws.region)
            .name("secretsmanager")
            .time(SystemTime::now())
            .settings(SigningSettings::default())
            .build()?
            .into();
        let endpoint_text = endpoint.to_string();
        let signable = SignableRequest::new(
            "POST",
            &endpoint_text,
            headers.iter().copied(),
            SignableBody::Bytes(body.as_bytes()),
        )?;
        let (signature, _) = sign(signable, &params)?.into_parts();
        let mut request = Request::post(endpoint.clone());
        for (name, value) in headers {
            request = request.header(name, value);
        }
        let mut request = request.body(Full::new(Bytes::from(body)))?;
        signature.apply_to_request_http1x(&mut request);
        Ok(request)
    }
}

/// Secrets Manager's regional endpoint; the China regions are in their
/// own partition.
fn default_endpoint(region: &str) -> String {
    let domain = if region.starts_with("cn-") {
        "amazonaws.com.cn"
    } else {
        "amazonaws.com"
    };
    format!("https://secretsmanager.{region}.{domain}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(vars: &'static [(&'static str, &'static str)]) -> Result<SecretsManager, BoxError> {
        SecretsManager::from_lookup(|name| vars.iter().find(|(k, _)| *k == name).map(|(_, v)| v.to_string()))
    }

    const AWS: [(&str, &str); 4] = [
        ("AWS_REGION", "eu-west-1"),
        ("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE"),
        ("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI-example-secret"),
        ("AWS_SESSION_TOKEN", "session-token-example"),
    ];

    #[test]
    fn the_endpoint_is_the_regional_one_unless_overridden() {
        assert_eq!(
            client(&AWS).unwrap().inner.endpoint.to_string(),
            "https://secretsmanager.eu-west-1.amazonaws.com/"
        );
        assert_eq!(
            default_endpoint("cn-north-1"),
            "https://secretsmanager.cn-north-1.amazonaws.com.cn"
        );
        static LOCAL: [(&str, &str); 5] = [
            AWS[0],
            AWS[1],
            AWS[2],
            AWS[3],
            ("AWS_ENDPOINT_URL_SECRETSMANAGER", "http://127.0.0.1:5000"),
        ];
        assert_eq!(
            client(&LOCAL).unwrap().inner.endpoint.to_string(),
            "http://127.0.0.1:5000/"
        );
        static BAD: [(&str, &str); 5] = [AWS[0], AWS[1], AWS[2], AWS[3], ("AWS_ENDPOINT_URL", "not a url")];
        // `err()`: the client has no `Debug` (nothing would need it).
        let error = |vars| client(vars).err().expect("refused").to_string();
        assert!(error(&BAD).contains("AWS_ENDPOINT_URL_SECRETSMANAGER"));
        assert!(error(&[]).contains("AWS_REGION"));
    }

    #[test]
    fn the_request_is_a_signed_get_secret_value_naming_the_secret() {
        let request = client(&AWS).unwrap().signed_request("qnlive/keys").unwrap();
        let header = |name: &str| request.headers()[name].to_str().unwrap().to_owned();
        assert_eq!(request.method(), "POST");
        assert_eq!(header("x-amz-target"), "secretsmanager.GetSecretValue");
        assert_eq!(header("content-type"), "application/x-amz-json-1.1");
        assert_eq!(header("x-amz-security-token"), "session-token-example");
        let authorization = header("authorization");
        assert!(
            authorization.starts_with("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/")
                && authorization.contains("/eu-west-1/secretsmanager/aws4_request")
                && authorization
                    .contains("SignedHeaders=content-type;host;x-amz-date;x-amz-security-token;x-amz-target"),
            "{authorization}"
        );
        assert!(
            !format!("{request:?}").contains("wJalrXUtnFEMI"),
            "the secret key is not sent"
        );
    }
}
