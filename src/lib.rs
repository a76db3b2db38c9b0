//! The QNLiveKit user service (`/server/user`) as one AWS Lambda function on
//! DynamoDB. `main.rs` wires these modules together; tests and tools use
//! them directly.

pub mod app;
pub mod auth;
pub mod config;
pub mod error;
pub mod im;
pub mod routes;
pub mod store;
pub mod telemetry;
pub mod users;

pub use app::App;
pub use config::Config;

use aws_config::BehaviorVersion;
use aws_smithy_http_client::tls::{rustls_provider::CryptoMode, Provider};

/// A DynamoDB client configured from the standard AWS environment
/// (`AWS_REGION`, credentials, `AWS_ENDPOINT_URL_DYNAMODB`), on the one
/// HTTPS stack this crate builds (hyper 1 + rustls with ring).
pub async fn dynamodb_client() -> aws_sdk_dynamodb::Client {
    let http_client = aws_smithy_http_client::Builder::new()
        .tls_provider(Provider::Rustls(CryptoMode::Ring))
        .build_https();
    let sdk_config = aws_config::defaults(BehaviorVersion::latest())
        .http_client(http_client)
        .load()
        .await;
    aws_sdk_dynamodb::Client::new(&sdk_config)
}
