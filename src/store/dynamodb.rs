//! The DynamoDB store: the table's client and name, and what only a real
//! table has (creating it). Its calls are in `users.rs` (one user),
//! `batch.rs` (many) and `counter.rs` (IM ids).

use super::items;
use super::StoreError;
use aws_sdk_dynamodb::types::{AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType};
use aws_sdk_dynamodb::Client;

#[derive(Clone, Debug)]
pub struct DynamoDbStore {
    pub(super) client: Client,
    pub(super) table: String,
}

impl DynamoDbStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        DynamoDbStore {
            client,
            table: table.into(),
        }
    }

    /// The client, for the calls only the import tool makes
    /// (`import/src/table.rs`).
    pub fn client(&self) -> &Client {
        &self.client
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    /// Creates the users table (pay-per-request, key `pk`) unless it
    /// exists. For local runs and tests; deployed tables come from the
    /// template.
    pub async fn create_table(&self) -> Result<(), StoreError> {
        const OPERATION: &str = "CreateTable";
        let key = |builder_error| StoreError::other(OPERATION, builder_error);
        let result = self
            .client
            .create_table()
            .table_name(&self.table)
            .billing_mode(BillingMode::PayPerRequest)
            .attribute_definitions(
                AttributeDefinition::builder()
                    .attribute_name(items::PK)
                    .attribute_type(ScalarAttributeType::S)
                    .build()
                    .map_err(key)?,
            )
            .key_schema(
                KeySchemaElement::builder()
                    .attribute_name(items::PK)
                    .key_type(KeyType::Hash)
                    .build()
                    .map_err(key)?,
            )
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) if e.as_service_error().is_some_and(|e| e.is_resource_in_use_exception()) => Ok(()),
            Err(e) => Err(StoreError::from_sdk(OPERATION, e)),
        }
    }
}
