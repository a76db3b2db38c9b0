//! The IM-id counter: one item whose number only grows, from which each
//! Lambda instance leases blocks of ids.

use super::items::*;
use super::{DynamoDbStore, StoreError};
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};
use std::ops::Range;

/// The counter's answer held no number.
#[derive(Debug, thiserror::Error)]
#[error("the IM id counter did not return a number")]
struct CounterWithoutNumber;

impl DynamoDbStore {
    /// Leases `count` IM user ids with one atomic `ADD` on the counter item.
    /// Returns the half-open range of ids that now belong to the caller.
    pub async fn lease_im_ids(&self, count: i64) -> Result<Range<i64>, StoreError> {
        const OPERATION: &str = "UpdateItem(counter)";
        let output = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(PK, AttributeValue::S(IM_COUNTER_KEY.into()))
            .update_expression("ADD #next :count")
            .expression_attribute_names("#next", COUNTER_NEXT)
            .expression_attribute_values(":count", number(count))
            .return_values(ReturnValue::UpdatedNew)
            .send()
            .await
            .map_err(|e| StoreError::from_sdk(OPERATION, e))?;
        let last = output
            .attributes
            .as_ref()
            .and_then(|attributes| number_attr(attributes, COUNTER_NEXT))
            .ok_or_else(|| StoreError::other(OPERATION, CounterWithoutNumber))?;
        Ok(leased_block(last, count))
    }
}

/// The ids a lease of `count` owns once the counter reads `last`: the
/// counter holds the last id handed out, so the first block is 1..=count.
pub(super) fn leased_block(last: i64, count: i64) -> Range<i64> {
    last - count + 1..last + 1
}
