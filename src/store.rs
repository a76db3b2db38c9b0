//! The users table in DynamoDB: the only module that knows attribute names,
//! key formats and the service's batch limits.
//!
//! One table, one string partition key `pk`. A user lives at `USER#<id>`;
//! the IM-id counter at `COUNTER#im_userid`, which no user id can produce.
//! Every user item carries an `extends` map (possibly empty) so that an
//! update can set single keys inside it atomically.

use crate::error::ApiError;
use crate::im::ImAccount;
use crate::users::{Extends, NewUser, User, UserChanges, UserId};
use aws_sdk_dynamodb::config::http::HttpResponse;
use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType, KeysAndAttributes, PutRequest,
    ReturnValue, ScalarAttributeType, WriteRequest,
};
use aws_sdk_dynamodb::Client;
use futures_util::future::join_all;
use std::collections::HashMap;
use std::ops::Range;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

type Item = HashMap<String, AttributeValue>;

const PK: &str = "pk";
const USER_KEY_PREFIX: &str = "USER#";
const IM_COUNTER_KEY: &str = "COUNTER#im_userid";

const USER_ID: &str = "user_id";
const NICK: &str = "nick";
const AVATAR: &str = "avatar";
const EXTENDS: &str = "extends";
const IM_USERID: &str = "im_userid";
const IM_USERNAME: &str = "im_username";
const IM_PASSWORD: &str = "im_password";
const CREATED_AT: &str = "created_at";
const UPDATED_AT: &str = "updated_at";
const COUNTER_NEXT: &str = "next_id";

/// DynamoDB's own limits per call.
const BATCH_WRITE_MAX_ITEMS: usize = 25;
const BATCH_GET_MAX_KEYS: usize = 100;

/// Rounds of `UnprocessedItems` / `UnprocessedKeys` retries, with full-jitter
/// exponential backoff from 20 ms up to 1 s (about 3 s at the worst).
const BATCH_ATTEMPTS: u32 = 8;
const BACKOFF_BASE_MS: u64 = 20;
const BACKOFF_CAP_MS: u64 = 1_000;

/// Why a user of a batch register was not written.
pub const REASON_UNAVAILABLE: &str = "not written: database unavailable, try again";
pub const REASON_FAILED: &str = "not written: unexpected database error";

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

    /// Creates the users table (pay-per-request, key `pk`) if it does not
    /// exist. For local runs and tests; production tables come from the
    /// deployment template.
    pub async fn create_table(&self) -> Result<(), ApiError> {
        let result = self
            .client
            .create_table()
            .table_name(&self.table)
            .billing_mode(BillingMode::PayPerRequest)
            .attribute_definitions(
                AttributeDefinition::builder()
                    .attribute_name(PK)
                    .attribute_type(ScalarAttributeType::S)
                    .build()
                    .map_err(internal("build CreateTable"))?,
            )
            .key_schema(
                KeySchemaElement::builder()
                    .attribute_name(PK)
                    .key_type(KeyType::Hash)
                    .build()
                    .map_err(internal("build CreateTable"))?,
            )
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) if e.as_service_error().is_some_and(|e| e.is_resource_in_use_exception()) => Ok(()),
            Err(e) => Err(classify("CreateTable", e)),
        }
    }

    /// Writes a new user; `UserAlreadyExists` if the id is taken. Never
    /// overwrites.
    pub async fn insert_user(&self, user: &NewUser, im: &ImAccount) -> Result<(), ApiError> {
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(user_item(user, im, now_millis())))
            .condition_expression("attribute_not_exists(#pk)")
            .expression_attribute_names("#pk", PK)
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) if failed_condition(&e) => Err(ApiError::UserAlreadyExists),
            Err(e) => Err(classify("PutItem", e)),
        }
    }

    /// Writes users that were checked to be new, 25 per `BatchWriteItem`,
    /// all calls at once, retrying `UnprocessedItems`. Returns the ids of the
    /// users that could not be written, each with its reason: none is
    /// dropped silently.
    /// Retries stop at `writes_end`: whatever is pending then is reported.
    pub async fn insert_users(
        &self,
        users: &[(&NewUser, ImAccount)],
        writes_end: Instant,
    ) -> Vec<(String, &'static str)> {
        let now = now_millis();
        let mut unwritten = Vec::new();
        let mut chunks = Vec::new();
        for chunk in users.chunks(BATCH_WRITE_MAX_ITEMS) {
            let mut requests = Vec::with_capacity(chunk.len());
            for (user, im) in chunk {
                match PutRequest::builder().set_item(Some(user_item(user, im, now))).build() {
                    Ok(put) => requests.push(WriteRequest::builder().put_request(put).build()),
                    Err(e) => {
                        tracing::error!(error = %e, "could not build a PutRequest");
                        unwritten.push((user.user_id.to_string(), REASON_FAILED));
                    }
                }
            }
            chunks.push(self.write_chunk(requests, writes_end));
        }
        for (items, reason) in join_all(chunks).await {
            for mut item in items {
                let user_id = take_string(&mut item, USER_ID).unwrap_or_default();
                unwritten.push((user_id, reason));
            }
        }
        unwritten
    }

    /// One chunk of a batch write, with its retries. Returns the items that
    /// were not written and why: DynamoDB stayed busy or unavailable, or
    /// failed in a way retrying cannot cure (a missing table, denied
    /// access). Other chunks' results stand either way.
    async fn write_chunk(&self, mut pending: Vec<WriteRequest>, writes_end: Instant) -> (Vec<Item>, &'static str) {
        let mut reason = REASON_UNAVAILABLE;
        for attempt in 0..BATCH_ATTEMPTS {
            if attempt > 0 && !backoff_before(attempt, writes_end).await {
                break;
            }
            let call = self
                .client
                .batch_write_item()
                .request_items(&self.table, pending.clone())
                .send();
            // A call cut off here may still have written some items: they
            // are reported as not written, and a retry by the client finds
            // them already registered.
            let Ok(result) = tokio::time::timeout_at(writes_end.into(), call).await else {
                break;
            };
            match result {
                Ok(output) => {
                    pending = output
                        .unprocessed_items
                        .and_then(|mut tables| tables.remove(&self.table))
                        .unwrap_or_default();
                    if pending.is_empty() {
                        return (Vec::new(), reason);
                    }
                }
                // The SDK has already retried what it can; report the rest.
                Err(e) => {
                    if !matches!(classify("BatchWriteItem", e), ApiError::DatabaseUnavailable) {
                        reason = REASON_FAILED;
                    }
                    break;
                }
            }
        }
        tracing::warn!(unwritten = pending.len(), reason, "batch write gave up on some users");
        let items = pending
            .into_iter()
            .filter_map(|request| request.put_request.map(|put| put.item))
            .collect();
        (items, reason)
    }

    /// Which of `ids` are already stored (one strongly consistent batch read).
    pub async fn existing_user_ids(&self, ids: &[&UserId]) -> Result<Vec<String>, ApiError> {
        let items = self.batch_get(ids, Some(USER_ID)).await?;
        Ok(items
            .into_iter()
            .filter_map(|mut item| take_string(&mut item, USER_ID))
            .collect())
    }

    /// Reads users by id: 100 keys per `BatchGetItem`, all calls at once,
    /// retrying `UnprocessedKeys`. Unknown ids are absent from the map. Either
    /// every known user is returned or the call fails: never a shortened
    /// answer.
    pub async fn get_users(&self, ids: &[&UserId]) -> Result<HashMap<String, User>, ApiError> {
        let items = self.batch_get(ids, None).await?;
        items
            .into_iter()
            .map(|item| user_from_item(item).map(|user| (user.user_id.clone(), user)))
            .collect()
    }

    async fn batch_get(&self, ids: &[&UserId], projection: Option<&'static str>) -> Result<Vec<Item>, ApiError> {
        let chunks = ids.chunks(BATCH_GET_MAX_KEYS).map(|chunk| {
            let keys = chunk.iter().map(|id| user_key(id)).collect();
            self.get_chunk(keys, projection)
        });
        let mut items = Vec::with_capacity(ids.len());
        for chunk in join_all(chunks).await {
            items.extend(chunk?);
        }
        Ok(items)
    }

    async fn get_chunk(&self, keys: Vec<Item>, projection: Option<&'static str>) -> Result<Vec<Item>, ApiError> {
        let mut request = KeysAndAttributes::builder().set_keys(Some(keys)).consistent_read(true);
        if let Some(attribute) = projection {
            request = request
                .projection_expression("#projected")
                .expression_attribute_names("#projected", attribute);
        }
        let mut pending = request.build().map_err(internal("build BatchGetItem"))?;
        let mut found = Vec::new();
        for attempt in 0..BATCH_ATTEMPTS {
            if attempt > 0 {
                backoff(attempt).await;
            }
            let output = self
                .client
                .batch_get_item()
                .request_items(&self.table, pending.clone())
                .send()
                .await
                .map_err(|e| classify("BatchGetItem", e))?;
            if let Some(mut tables) = output.responses {
                found.extend(tables.remove(&self.table).unwrap_or_default());
            }
            match output
                .unprocessed_keys
                .and_then(|mut tables| tables.remove(&self.table))
            {
                Some(rest) if !rest.keys.is_empty() => pending = rest,
                _ => return Ok(found),
            }
        }
        tracing::warn!(
            unprocessed = pending.keys.len(),
            "batch get still had unprocessed keys after every retry"
        );
        Err(ApiError::DatabaseUnavailable)
    }

    /// Reads one user, strongly consistent.
    pub async fn get_user(&self, id: &UserId) -> Result<Option<User>, ApiError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(user_key(id)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| classify("GetItem", e))?;
        output.item.map(user_from_item).transpose()
    }

    /// Applies a partial update in one `UpdateItem`: `nick`/`avatar` when
    /// given, and each `extends` key set inside the stored map, so that
    /// concurrent updates of different keys all survive. `UserNotFound` if
    /// the user does not exist.
    pub async fn update_user(&self, id: &UserId, changes: &UserChanges) -> Result<(), ApiError> {
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
            Err(e) if failed_condition(&e) => Err(ApiError::UserNotFound),
            // Merging keys into `extends` can grow an item past DynamoDB's
            // 400 KB; that is the client's request, not our failure.
            Err(e) if is_item_too_large(&e) => Err(ApiError::bad_request(
                "extends: the user record would exceed DynamoDB's item size limit",
            )),
            Err(e) => Err(classify("UpdateItem", e)),
        }
    }

    /// Leases `count` IM user ids with one atomic `ADD` on the counter item.
    /// Returns the half-open range of ids that now belong to the caller.
    pub async fn lease_im_ids(&self, count: i64) -> Result<Range<i64>, ApiError> {
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
            .map_err(|e| classify("UpdateItem(counter)", e))?;
        let last = output
            .attributes
            .as_ref()
            .and_then(|attributes| number_attr(attributes, COUNTER_NEXT))
            .ok_or_else(|| {
                tracing::error!("the IM id counter did not return a number");
                ApiError::Internal
            })?;
        // The counter holds the last id handed out; the first block is 1..=count.
        Ok(last - count + 1..last + 1)
    }
}

fn user_key(id: &UserId) -> Item {
    HashMap::from([(PK.to_owned(), AttributeValue::S(format!("{USER_KEY_PREFIX}{id}")))])
}

fn user_item(user: &NewUser, im: &ImAccount, now: i64) -> Item {
    let extends = user
        .extends
        .iter()
        .map(|(k, v)| (k.clone(), AttributeValue::S(v.clone())))
        .collect();
    let mut item = user_key(&user.user_id);
    item.extend([
        (USER_ID.to_owned(), AttributeValue::S(user.user_id.to_string())),
        (NICK.to_owned(), AttributeValue::S(user.nick.clone())),
        (AVATAR.to_owned(), AttributeValue::S(user.avatar.clone())),
        (EXTENDS.to_owned(), AttributeValue::M(extends)),
        (IM_USERID.to_owned(), number(im.im_userid)),
        (IM_USERNAME.to_owned(), AttributeValue::S(im.im_username.clone())),
        (IM_PASSWORD.to_owned(), AttributeValue::S(im.im_password.clone())),
        (CREATED_AT.to_owned(), number(now)),
        (UPDATED_AT.to_owned(), number(now)),
    ]);
    item
}

/// A user from its item, taking the attributes out rather than copying
/// them (batch reads hand over up to 200 items).
fn user_from_item(mut item: Item) -> Result<User, ApiError> {
    let (Some(user_id), Some(im_userid)) = (take_string(&mut item, USER_ID), number_attr(&item, IM_USERID)) else {
        tracing::error!(pk = ?item.get(PK), "a user item lacks user_id or im_userid");
        return Err(ApiError::Internal);
    };
    let extends: Extends = match item.remove(EXTENDS) {
        Some(AttributeValue::M(map)) => map
            .into_iter()
            .filter_map(|(k, v)| match v {
                AttributeValue::S(v) => Some((k, v)),
                _ => None,
            })
            .collect(),
        _ => Extends::new(),
    };
    Ok(User {
        user_id,
        nick: take_string(&mut item, NICK).unwrap_or_default(),
        avatar: take_string(&mut item, AVATAR).unwrap_or_default(),
        extends,
        im: ImAccount {
            im_userid,
            im_username: take_string(&mut item, IM_USERNAME).unwrap_or_default(),
            im_password: take_string(&mut item, IM_PASSWORD).unwrap_or_default(),
        },
    })
}

/// The write's condition (exists / does not exist) did not hold.
fn failed_condition<E: ProvideErrorMetadata, R>(error: &SdkError<E, R>) -> bool {
    error.as_service_error().and_then(|e| e.code()) == Some("ConditionalCheckFailedException")
}

/// DynamoDB's answer to an item over 400 KB: a `ValidationException` whose
/// message starts "Item size has exceeded the maximum allowed size".
fn is_item_too_large<E: ProvideErrorMetadata, R>(error: &SdkError<E, R>) -> bool {
    error.as_service_error().is_some_and(|e| {
        e.code() == Some("ValidationException") && e.message().is_some_and(|m| m.contains("Item size"))
    })
}

fn take_string(item: &mut Item, name: &str) -> Option<String> {
    match item.remove(name) {
        Some(AttributeValue::S(value)) => Some(value),
        _ => None,
    }
}

fn number_attr(item: &Item, name: &str) -> Option<i64> {
    item.get(name).and_then(|v| v.as_n().ok()).and_then(|n| n.parse().ok())
}

fn number(n: i64) -> AttributeValue {
    AttributeValue::N(n.to_string())
}

fn now_millis() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// Full-jitter exponential backoff before retry `attempt` (1-based).
fn backoff_delay(attempt: u32) -> Duration {
    let ceiling = BACKOFF_CAP_MS.min(BACKOFF_BASE_MS << attempt.min(16));
    let mut random = [0u8; 8];
    let jitter = match getrandom::getrandom(&mut random) {
        Ok(()) => u64::from_le_bytes(random) % (ceiling + 1),
        Err(_) => ceiling / 2,
    };
    Duration::from_millis(jitter)
}

async fn backoff(attempt: u32) {
    tokio::time::sleep(backoff_delay(attempt)).await;
}

/// Backs off unless that would reach `end`; false means "stop retrying".
async fn backoff_before(attempt: u32, end: Instant) -> bool {
    let delay = backoff_delay(attempt);
    if Instant::now() + delay >= end {
        return false;
    }
    tokio::time::sleep(delay).await;
    true
}

/// Maps an SDK failure to the API's error and logs the detail, which never
/// reaches the client. Throttling, 5xx answers, timeouts and connection
/// failures that outlived the SDK's retries are "database unavailable".
fn classify<E>(operation: &'static str, error: SdkError<E, HttpResponse>) -> ApiError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let transient = match &error {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => true,
        SdkError::ServiceError(service) => {
            service.raw().status().is_server_error()
                || matches!(
                    service.err().code(),
                    Some(
                        "ThrottlingException"
                            | "ProvisionedThroughputExceededException"
                            | "RequestLimitExceeded"
                            | "InternalServerError"
                            | "ServiceUnavailable"
                    )
                )
        }
        _ => false,
    };
    if transient {
        tracing::warn!(operation, error = %DisplayErrorContext(&error), "DynamoDB unavailable");
        ApiError::DatabaseUnavailable
    } else {
        tracing::error!(operation, error = %DisplayErrorContext(&error), "DynamoDB call failed");
        ApiError::Internal
    }
}

fn internal<E: std::fmt::Display>(what: &'static str) -> impl Fn(E) -> ApiError {
    move |e| {
        tracing::error!(error = %e, "{what}");
        ApiError::Internal
    }
}
