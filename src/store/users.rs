//! One user at a time: create, read, change. One DynamoDB call each.

use super::error::{failed_condition, is_item_too_large};
use super::items::*;
use super::{refused_create, DynamoDbStore, StoreError};
use crate::domain::validation::{check_extends_after_merge, MAX_EXTENDS_ENTRIES};
use crate::domain::{ImAccount, NewUser, User, UserChanges, UserId};
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValuesOnConditionCheckFailure};
use std::collections::{HashMap, HashSet};

/// What a put that must not overwrite met.
#[derive(Debug, PartialEq)]
pub enum PutIfAbsent {
    Written,
    /// Another item holds the key: that item, as DynamoDB returned it with
    /// the failed condition (`None` if it returned none).
    KeyTaken(Option<Item>),
}

/// Conditional sends of one update: the first, and the retries made when
/// other updates changed `extends` between a failed condition and the next
/// send. Only a user whose map is near the bound and changing under many
/// concurrent updates can use them all up.
const UPDATE_ATTEMPTS: u32 = 4;

/// Other updates kept changing the user's `extends` while this one waited
/// to know whether it still fits.
#[derive(Debug, thiserror::Error)]
#[error("extends kept changing under {attempts} attempts of a bounded update")]
struct KeptChanging {
    attempts: u32,
}

/// What a conditional `UpdateItem` did.
enum Sent {
    Applied,
    /// The condition failed because there is no such user.
    NoSuchUser,
    /// The condition failed on `extends`, whose keys were these.
    ExtendsWas(HashSet<String>),
}

/// An `UpdateItem` condition and the values it names.
struct UpdateCondition {
    expression: String,
    values: HashMap<String, AttributeValue>,
}

/// The user exists and, when the update sets `extends` keys, the map has
/// room for all of them as new keys, or already holds all of them.
fn first_update_condition(changes: &UserChanges) -> UpdateCondition {
    let keys = changes.extends.len();
    if keys == 0 {
        return UpdateCondition {
            expression: "attribute_exists(#pk)".into(),
            values: HashMap::new(),
        };
    }
    let all_present: Vec<String> = (0..keys).map(|i| format!("attribute_exists(#extends.#e{i})")).collect();
    let room = MAX_EXTENDS_ENTRIES.saturating_sub(keys);
    UpdateCondition {
        expression: format!(
            "attribute_exists(#pk) AND (size(#extends) <= :room OR ({}))",
            all_present.join(" AND ")
        ),
        values: HashMap::from([(":room".to_owned(), number(room as i64))]),
    }
}

/// The user exists and its `extends` is exactly as counted: `stored`
/// entries, with the update's key `i` present when `present[i]`.
fn pinned_update_condition(stored: usize, present: &[bool]) -> UpdateCondition {
    let mut parts = vec![
        "attribute_exists(#pk)".to_owned(),
        "size(#extends) = :stored".to_owned(),
    ];
    parts.extend(present.iter().enumerate().map(|(i, present)| {
        let test = if *present {
            "attribute_exists"
        } else {
            "attribute_not_exists"
        };
        format!("{test}(#extends.#e{i})")
    }));
    UpdateCondition {
        expression: parts.join(" AND "),
        values: HashMap::from([(":stored".to_owned(), number(stored as i64))]),
    }
}

impl DynamoDbStore {
    /// Writes a new user; never overwrites. `Conflict` if another write
    /// holds the id.
    ///
    /// When the first attempt took effect but its answer was lost, the SDK
    /// sends the put again and meets the item it wrote itself: DynamoDB
    /// returns that item with the failed condition, and [`refused_create`]
    /// tells this write's own item from another's.
    pub async fn create_user(&self, user: &NewUser, im: &ImAccount) -> Result<(), StoreError> {
        match self.put_if_absent(user_item(user, im, now_millis()), "PutItem").await? {
            PutIfAbsent::Written => Ok(()),
            PutIfAbsent::KeyTaken(stored) => refused_create(
                stored
                    .as_ref()
                    .and_then(|item| item.get(IM_PASSWORD)?.as_s().ok().map(String::as_str)),
                im,
            ),
        }
    }

    /// Puts `item` only where its key holds no item (one conditional
    /// `PutItem`); otherwise says what holds the key. `operation` names
    /// the call in errors.
    pub async fn put_if_absent(&self, item: Item, operation: &'static str) -> Result<PutIfAbsent, StoreError> {
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(#pk)")
            .expression_attribute_names("#pk", PK)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match result {
            Ok(_) => Ok(PutIfAbsent::Written),
            Err(e) if failed_condition(&e) => Ok(PutIfAbsent::KeyTaken(match e.into_service_error() {
                PutItemError::ConditionalCheckFailedException(failed) => failed.item,
                _ => None,
            })),
            Err(e) => Err(StoreError::from_sdk(operation, e)),
        }
    }

    /// Reads one user, strongly consistent.
    pub async fn get_user(&self, id: &UserId) -> Result<Option<User>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(user_key(id)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| StoreError::from_sdk("GetItem", e))?;
        output.item.map(user_from_item).transpose()
    }

    /// Applies a partial update in one `UpdateItem`: `nick`/`avatar` when
    /// given, and each `extends` key set inside the stored map, so that
    /// concurrent updates of different keys all survive. `NotFound` if the
    /// user does not exist; `Invalid` if the merged `extends` would hold too
    /// many entries; `TooLarge` if the merged item would pass 400 KB.
    ///
    /// The bound on `extends` is part of the write's condition, so that no
    /// concurrent update can slip past it. The first condition holds when
    /// the map has room for every key as if all were new, or when all of
    /// them exist (an update that only changes keys never grows the map).
    /// Otherwise DynamoDB returns the stored item, the exact count is made
    /// from it, and the write is sent again on condition that the map is
    /// still as counted.
    pub async fn update_user(&self, id: &UserId, changes: &UserChanges) -> Result<(), StoreError> {
        let mut condition = first_update_condition(changes);
        for _ in 0..UPDATE_ATTEMPTS {
            let stored = match self.send_update(id, changes, &condition).await? {
                Sent::Applied => return Ok(()),
                Sent::NoSuchUser => return Err(StoreError::NotFound),
                Sent::ExtendsWas(stored) => stored,
            };
            let present: Vec<bool> = changes.extends.keys().map(|key| stored.contains(key)).collect();
            let added = present.iter().filter(|present| !**present).count();
            check_extends_after_merge(stored.len(), added)?;
            condition = pinned_update_condition(stored.len(), &present);
        }
        Err(StoreError::unavailable(
            "UpdateItem",
            KeptChanging {
                attempts: UPDATE_ATTEMPTS,
            },
        ))
    }

    /// One conditional `UpdateItem`.
    async fn send_update(
        &self,
        id: &UserId,
        changes: &UserChanges,
        condition: &UpdateCondition,
    ) -> Result<Sent, StoreError> {
        let mut sets = vec!["#updated_at = :updated_at".to_owned()];
        let mut request = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(user_key(id)))
            .condition_expression(&condition.expression)
            .set_expression_attribute_values(Some(condition.values.clone()))
            .expression_attribute_names("#pk", PK)
            .expression_attribute_names("#updated_at", UPDATED_AT)
            .expression_attribute_values(":updated_at", number(now_millis()))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld);
        if let Some(nick) = &changes.nick {
            sets.push("#nick = :nick".into());
            request = request
                .expression_attribute_names("#nick", NICK)
                .expression_attribute_values(":nick", AttributeValue::S(nick.clone()));
        }
        if let Some(avatar) = &changes.avatar {
            sets.push("#avatar = :avatar".into());
            request = request
                .expression_attribute_names("#avatar", AVATAR)
                .expression_attribute_values(":avatar", AttributeValue::S(avatar.clone()));
        }
        if !changes.extends.is_empty() {
            request = request.expression_attribute_names("#extends", EXTENDS);
        }
        for (index, (key, value)) in changes.extends.iter().enumerate() {
            sets.push(format!("#extends.#e{index} = :e{index}"));
            request = request
                .expression_attribute_names(format!("#e{index}"), key)
                .expression_attribute_values(format!(":e{index}"), AttributeValue::S(value.clone()));
        }
        let result = request
            .update_expression(format!("SET {}", sets.join(", ")))
            .send()
            .await;
        match result {
            Ok(_) => Ok(Sent::Applied),
            Err(e) if failed_condition(&e) => {
                let stored = match e.into_service_error() {
                    UpdateItemError::ConditionalCheckFailedException(failed) => failed.item,
                    _ => None,
                };
                Ok(match stored {
                    None => Sent::NoSuchUser,
                    Some(mut item) => Sent::ExtendsWas(match item.remove(EXTENDS) {
                        Some(AttributeValue::M(map)) => map.into_keys().collect(),
                        _ => HashSet::new(),
                    }),
                })
            }
            Err(e) if is_item_too_large(&e) => Err(StoreError::TooLarge),
            Err(e) => Err(StoreError::from_sdk("UpdateItem", e)),
        }
    }

    /// Records the IM user id of a user whose IM account was pending. Only
    /// for the account with this password, so that an id is never attached
    /// to credentials it does not belong to; `Conflict` otherwise. Setting
    /// the same id twice (two requests completing one account) is harmless.
    pub async fn record_im_userid(&self, id: &UserId, im_password: &str, im_userid: i64) -> Result<(), StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(user_key(id)))
            .update_expression("SET #im_userid = :im_userid")
            .condition_expression("#im_password = :im_password")
            .expression_attribute_names("#im_userid", IM_USERID)
            .expression_attribute_names("#im_password", IM_PASSWORD)
            .expression_attribute_values(":im_userid", number(im_userid))
            .expression_attribute_values(":im_password", AttributeValue::S(im_password.to_owned()))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) if failed_condition(&e) => Err(StoreError::Conflict),
            Err(e) => Err(StoreError::from_sdk("UpdateItem(im_userid)", e)),
        }
    }

    /// One cheap read, to open the connection (TCP and TLS) during Lambda's
    /// init rather than in the first request.
    pub async fn touch(&self) -> Result<(), StoreError> {
        self.client
            .get_item()
            .table_name(&self.table)
            .key(PK, AttributeValue::S(IM_COUNTER_KEY.into()))
            .send()
            .await
            .map_err(|e| StoreError::from_sdk("GetItem", e))?;
        Ok(())
    }
}
