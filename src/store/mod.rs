//! The users table in DynamoDB. It knows the domain and nothing above it:
//! it returns domain values and its own [`StoreError`], never a reply.

pub mod batch;
pub mod client;
mod counter;
mod error;
mod import;
mod items;
mod read_budget;
mod users;

pub use batch::NotWritten;
pub use client::{dynamodb_client, limits};
pub use error::{BoxError, StoreError};
pub use import::{ImportOutcome, ImportedUser};

use aws_sdk_dynamodb::types::{AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType};
use aws_sdk_dynamodb::Client;

#[derive(Clone, Debug)]
pub struct Store {
    client: Client,
    table: String,
}

impl Store {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Store {
            client,
            table: table.into(),
        }
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
