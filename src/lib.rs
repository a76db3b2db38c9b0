//! The QNLiveKit user service (`/server/user`) as one AWS Lambda function on
//! DynamoDB.
//!
//! The layers, each knowing only those before it:
//! `domain` (users, ids, validation, IM accounts) ← `store` (DynamoDB) and
//! `secrets` (the Qiniu keys and the IM admin token, from Secrets Manager)
//! ← `im` (where IM accounts come from) ← `usecases` (one per endpoint) ←
//! `edge` (request id, limits, routing, authentication, the envelope, the
//! Lambda runtime). `config` reads the environment into each layer's
//! settings, and [`build_app`] wires them; `main.rs` runs the result.
//! `telemetry` (logs), `metrics` (one CloudWatch EMF line per request) and
//! `aws` (the standard AWS variables) know none of the layers, and all of
//! them may use them.

pub mod aws;
pub mod backoff;
pub mod config;
pub mod domain;
pub mod edge;
pub mod error;
pub mod im;
pub mod metrics;
pub mod secrets;
pub mod store;
pub mod telemetry;
pub mod usecases;

pub use config::Config;
pub use edge::App;

use im::ImAccounts;
use store::{DynamoDbStore, Store};
use usecases::UserService;

/// The function, wired from its configuration and a DynamoDB client. Fails
/// only if the IM client cannot load the system's trust roots.
pub fn build_app(config: Config, client: aws_sdk_dynamodb::Client) -> std::io::Result<App> {
    let store = Store::from(DynamoDbStore::new(client, config.users_table));
    let im = ImAccounts::new(config.im, store.clone())?;
    Ok(App::new(config.edge, UserService::new(store, im)))
}
