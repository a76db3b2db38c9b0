//! The Lambda bootstrap: logging, configuration and the DynamoDB client,
//! once per instance; then every request.

use lambda_http::Error;
use qnlive_user_api::telemetry::{self, ErrorChain, LogSettings};
use qnlive_user_api::{build_app, edge, store, Config};
use std::time::Duration;

/// Lambda's init phase runs with a full CPU; the first request may not.
const WARM_UP_LIMIT: Duration = Duration::from_secs(2);

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    telemetry::init(&LogSettings::from_env(), std::io::stdout);

    let config = Config::from_env().inspect_err(|e| tracing::error!("configuration error: {}", ErrorChain(e)))?;
    let client = store::dynamodb_client().inspect_err(|e| tracing::error!("configuration error: {e}"))?;
    let app = build_app(config, client).inspect_err(|e| tracing::error!("start-up error: {e}"))?;
    app.warm_up(WARM_UP_LIMIT).await;

    edge::lambda::run(&app).await
}
