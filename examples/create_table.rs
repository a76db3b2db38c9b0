//! Creates the users table named by `USERS_TABLE` (if it does not exist) in
//! the DynamoDB that the standard AWS variables point at. Used by
//! `scripts/run.sh` and `scripts/test.sh` against DynamoDB Local; deployed
//! tables come from `template.yaml`.

use qnlive_user_api::store::{dynamodb_client, DynamoDbStore};
use qnlive_user_api::telemetry::ErrorChain;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let table = std::env::var("USERS_TABLE").map_err(|_| "USERS_TABLE is not set: name the table to create")?;
    DynamoDbStore::new(dynamodb_client()?, &table)
        .create_table()
        .await
        .map_err(|e| format!("could not create table {table}: {}", ErrorChain(&e)))?;
    println!("table {table} is ready");
    Ok(())
}
