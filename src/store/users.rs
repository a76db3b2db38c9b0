//! One user at a time: create, read, change. One DynamoDB call each.

use super::error::{failed_condition, is_item_too_large};
use super::items::*;
use super::{Store, StoreError};
use crate::domain::{ImAccount, NewUser, User, UserChanges, UserId};
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValuesOnConditionCheckFailure};

impl Store {
    /// Writes a new user; never overwrites. `Conflict` if another write
    /// holds the id.
    ///
    /// When the first attempt took effect but its answer was lost, the SDK
    /// sends the put again and meets the item it wrote itself. That is this
    /// write's success, not a conflict: the item DynamoDB returns with the
    /// failed condition carries the IM password, which is generated anew
    /// for every registration, so "same password" means "same write".
    pub async fn create_user(&self, user: &NewUser, im: &ImAccount) -> Result<(), StoreError> {
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(user_item(user, im, now_millis())))
            .condition_expression("attribute_not_exists(#pk)")
            .expression_attribute_names("#pk", PK)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) if failed_condition(&e) => {
                let stored = match e.as_service_error() {
                    Some(PutItemError::ConditionalCheckFailedException(failed)) => failed.item(),
                    _ => None,
                };
                let stored_password = stored
                    .and_then(|item| item.get(IM_PASSWORD))
                    .and_then(|v| v.as_s().ok());
                if stored_password == Some(&im.im_password) {
                    Ok(())
                } else {
                    Err(StoreError::Conflict)
                }
            }
            Err(e) => Err(StoreError::from_sdk("PutItem", e)),
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
    /// user does not exist; `TooLarge` if the merged item would pass 400 KB.
    pub async fn update_user(&self, id: &UserId, changes: &UserChanges) -> Result<(), StoreError> {
        let mut sets = vec!["#updated_at = :updated_at".to_owned()];
        let mut request = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(user_key(id)))
            .condition_expression("attribute_exists(#pk)")
            .expression_attribute_names("#pk", PK)
            .expression_attribute_names("#updated_at", UPDATED_AT)
            .expression_attribute_values(":updated_at", number(now_millis()));
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
            Ok(_) => Ok(()),
            Err(e) if failed_condition(&e) => Err(StoreError::NotFound),
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
