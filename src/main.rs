//! Lambda entry point: read the configuration, build the DynamoDB client
//! once for the life of the instance, then serve every request.

use lambda_http::Error;
use qnlive_user_api::telemetry::{self, LogSettings};
use qnlive_user_api::{dynamodb_client, App, Config};
use std::time::Duration;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    telemetry::init(&LogSettings::from_env(), std::io::stdout);

    let config = Config::from_env().inspect_err(|e| tracing::error!("configuration error: {e}"))?;
    let client = dynamodb_client().inspect_err(|e| tracing::error!("configuration error: {e}"))?;
    // The app lives as long as the process; leaking it gives the handler a
    // `'static` borrow without reference counting on every request.
    let app: &'static App = Box::leak(Box::new(App::new(config, client)));
    // Lambda's init phase runs with a full CPU; the first request may not.
    app.prepare(Duration::from_secs(2)).await;

    qnlive_user_api::lambda::run(app).await
}
