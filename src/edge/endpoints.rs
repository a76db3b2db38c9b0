//! Each route's input decoded into domain values, handed to its use case,
//! and the typed answer serialized as the reply's `data`. Only reached by
//! authenticated requests: path ids, query and body are not even decoded
//! before.

use super::decode;
use super::envelope::Data;
use super::error::ApiError;
use super::routes::{path_user_id, Route};
use crate::domain::User;
use crate::metrics;
use crate::usecases::UserService;
use serde_json::value::to_raw_value;
use tokio::time::Instant;

/// Lambda refuses replies over 6 MB (counted after JSON-escaping the body):
/// a batch answer over this is refused in the envelope instead.
pub const MAX_REPLY_DATA_BYTES: usize = 5 * 1024 * 1024;

/// Which view of a user an endpoint returns.
#[derive(Clone, Copy)]
enum View {
    Info,
    Profile,
}

/// The parts of an authenticated request an endpoint reads.
pub struct Input<'a> {
    pub query: Option<&'a str>,
    pub body: &'a [u8],
    /// When the use case must stop working (retries, IM calls) so that the
    /// reply still makes it within the request's time.
    pub work_end: Instant,
}

pub async fn call(users: &UserService, route: Route<'_>, input: Input<'_>) -> Result<Data, ApiError> {
    match route {
        Route::Register => {
            users.register(&decode::new_user(input.body)?, input.work_end).await?;
            Ok(None)
        }
        Route::RegisterBatch => {
            let batch = decode::new_users(input.body)?;
            metrics::record_batch_size(batch.len());
            let report = users.register_batch(&batch, input.work_end).await?;
            if report.not_registered.is_empty() {
                Ok(None)
            } else {
                Ok(Some(to_raw_value(&report.not_registered)?))
            }
        }
        Route::Update(segment) => {
            let user_id = path_user_id(segment)?;
            let changes = decode::user_changes(input.body, &user_id)?;
            users.update(&user_id, &changes).await?;
            Ok(None)
        }
        Route::Info(segment) => one(users, segment, input.work_end, View::Info).await,
        Route::Profile(segment) => one(users, segment, input.work_end, View::Profile).await,
        Route::Infos => many(users, input, View::Info).await,
        Route::Profiles => many(users, input, View::Profile).await,
    }
}

async fn one(users: &UserService, segment: &str, end: Instant, view: View) -> Result<Data, ApiError> {
    let user = users.user(&path_user_id(segment)?, end).await?;
    let data = match view {
        View::Info => to_raw_value(&user.info()),
        View::Profile => to_raw_value(&user.profile()),
    };
    Ok(Some(data?))
}

/// Batch info/profile: request order, repeats collapsed, unknown ids left
/// out.
async fn many(users: &UserService, input: Input<'_>, view: View) -> Result<Data, ApiError> {
    let ids = decode::user_ids(input.query, input.body)?;
    metrics::record_batch_size(ids.sent);
    let found = users.users(&ids.unique, input.work_end, MAX_REPLY_DATA_BYTES).await?;
    let data = match view {
        View::Info => to_raw_value(&found.iter().map(User::info).collect::<Vec<_>>()),
        View::Profile => to_raw_value(&found.iter().map(User::profile).collect::<Vec<_>>()),
    }?;
    // The read stopped early on the info view's size; the profile view's
    // extra fields are checked here, on the real text.
    if data.get().len() > MAX_REPLY_DATA_BYTES {
        return Err(ApiError::AnswerTooLarge);
    }
    Ok(Some(data))
}
