//! Creates the users table named by `USERS_TABLE` (if it does not exist) in
//! the DynamoDB that the standard AWS variables point at. Used by
//! `scripts/run.sh` and `scripts/test.sh` against DynamoDB Local; deployed
//! tables come from `template.yaml`.

use qnlive_user_api::store::{dynamodb_client, Store};
use qnlive_user_api::telemetry::ErrorChain;
use qnlive_user_api::Config;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let config = Config::from_env()?;
    Store::new(dynamodb_client()?, &config.users_table)
        .create_table()
        .await
        .map_err(|e| format!("could not create table {}: {}", config.users_table, ErrorChain(&e)))?;
    println!("table {} is ready", config.users_table);
    Ok(())
}
