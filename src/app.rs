//! The request pipeline: route, size check, authentication, then the
//! endpoint; every outcome becomes the contract's JSON envelope with the
//! request id in the body and in `X-Reqid`.

use crate::auth::{self, Rejection, SignedRequest};
use crate::config::{AuthMode, Config};
use crate::error::ApiError;
use crate::im::{ImProvider, LocalImProvider};
use crate::lambda::REJECTED_PART_HEADER;
use crate::routes::{path_user_id, route, Route, BASE_PATH};
use crate::store::Store;
use crate::users::{self, NewUser, UserId};
use lambda_http::http::{header, HeaderValue, StatusCode};
use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt, Response};
use serde::Serialize;
use serde_json::value::{to_raw_value, RawValue};
use std::borrow::Cow;
use std::collections::{BTreeMap, HashSet};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tracing::Instrument;

/// The contract's limit on request bodies.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;
/// Far above what API Gateway forwards (10 KiB); a bound for other callers.
pub const MAX_HEADER_BYTES: usize = 16 * 1024;

/// Time kept back from the Lambda deadline to serialize and send the reply.
pub const REPLY_MARGIN: Duration = Duration::from_millis(500);
/// The request budget when there is no Lambda deadline (tests, tools): the
/// template's 10 s timeout minus the margin.
pub const DEFAULT_BUDGET: Duration = Duration::from_millis(9_500);
/// Lambda refuses replies over 6 MB (counted after JSON-escaping the body):
/// a batch answer over this is refused in the envelope instead.
pub const MAX_REPLY_DATA_BYTES: usize = 5 * 1024 * 1024;
/// Lambda's longest timeout.
const MAX_BUDGET: Duration = Duration::from_secs(900);
/// Batch writes stop retrying this long before the budget ends, so that the
/// users still pending are reported in `data` rather than lost in a 503.
const WRITE_MARGIN: Duration = Duration::from_millis(300);

const REASON_EXISTS: &str = "user already exists";
const REASON_REPEATED: &str = "repeated in this request: only its first occurrence was registered";

/// The `data` of a successful reply, already serialized (field order kept).
type Data = Option<Box<RawValue>>;

/// Which view of a user an endpoint returns.
#[derive(Clone, Copy)]
enum View {
    Info,
    Profile,
}

/// The contract's reply, in the field order the original document shows.
#[derive(Serialize)]
struct Envelope<'a> {
    request_id: &'a str,
    code: u32,
    message: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    data: Option<&'a RawValue>,
}

pub struct App {
    config: Config,
    store: Store,
    im: Box<dyn ImProvider>,
}

impl App {
    /// The service with IM accounts made locally (see [`LocalImProvider`]).
    pub fn new(config: Config, client: aws_sdk_dynamodb::Client) -> Self {
        let store = Store::new(client, config.users_table.clone());
        let im = LocalImProvider::new(store.clone(), config.im_username_prefix.clone());
        Self::with_im_provider(config, store, Box::new(im))
    }

    pub fn with_im_provider(config: Config, store: Store, im: Box<dyn ImProvider>) -> Self {
        match &config.auth {
            AuthMode::Keys(keys) => {
                tracing::info!(access_keys = ?keys.access_keys().collect::<Vec<_>>(), "authentication on")
            }
            AuthMode::Disabled => tracing::warn!("AUTH_DISABLED=true: requests are not authenticated"),
            AuthMode::NoKeysConfigured => tracing::error!(
                "QINIU_KEYS is empty and AUTH_DISABLED is not true: every request will be refused with 401"
            ),
        }
        App { config, store, im }
    }

    /// Init-time work, bounded so that an unreachable DynamoDB delays the
    /// start by at most `limit`: open the connection, lease IM ids. A
    /// failure is logged and left for the first request to retry.
    pub async fn prepare(&self, limit: Duration) {
        let started = Instant::now();
        match tokio::time::timeout(limit, self.im.prepare()).await {
            Ok(Ok(())) => tracing::info!(
                elapsed_ms = started.elapsed().as_secs_f64() * 1000.0,
                "ready: DynamoDB connection open, IM ids leased"
            ),
            Ok(Err(_)) => tracing::warn!("could not prepare at start-up; the first request will retry"),
            Err(_) => tracing::warn!("preparing at start-up took over {limit:?}; the first request will retry"),
        }
    }

    /// Answers one request. Never fails: every error is an envelope.
    pub async fn handle(&self, request: Request) -> Response<Body> {
        let started = Instant::now();
        let request_id = request_id(&request);
        let span = tracing::info_span!(
            "request",
            request_id = %request_id,
            method = %request.method(),
            route = tracing::field::Empty
        );
        async {
            let budget_end = budget_end(&request, started);
            let result = match tokio::time::timeout_at(budget_end.into(), self.dispatch(&request, budget_end)).await {
                Ok(result) => result,
                Err(_) => {
                    tracing::warn!("the request ran out of time: DynamoDB is stalled or slow");
                    Err(ApiError::DatabaseUnavailable)
                }
            };
            let code = result.as_ref().map_or_else(ApiError::code, |_| 0);
            let response = envelope(&request_id, result);
            tracing::info!(
                status = response.status().as_u16(),
                code,
                elapsed_ms = started.elapsed().as_millis() as u64,
                "answered"
            );
            response
        }
        .instrument(span)
        .await
    }

    async fn dispatch(&self, request: &Request, budget_end: Instant) -> Result<Data, ApiError> {
        if let Some(part) = request.headers().get(REJECTED_PART_HEADER) {
            let part = if part == "path" { "path" } else { "query" };
            return Err(ApiError::bad_request(format!(
                "{part}: not a valid URL {part}: percent-encode it, and keep the URL under 60 KiB"
            )));
        }
        let header_bytes: usize = request.headers().iter().map(|(k, v)| k.as_str().len() + v.len()).sum();
        if header_bytes > MAX_HEADER_BYTES {
            return Err(ApiError::bad_request("headers: larger than 16 KiB"));
        }
        let stage = stage(request);
        let routing_path = self.routing_path(request.raw_http_path(), stage.as_deref());
        let route = route(request.method(), &routing_path)?;
        tracing::Span::current().record("route", route.name());

        let body: &[u8] = request.body();
        if body.len() > MAX_BODY_BYTES {
            return Err(ApiError::bad_request("body: larger than 1 MiB"));
        }
        self.authenticate(request, &routing_path, stage.as_deref())?;

        let query = request.uri().query();
        match route {
            Route::Register => self.register(body).await,
            Route::RegisterBatch => {
                let writes_end = budget_end.checked_sub(WRITE_MARGIN).unwrap_or(budget_end);
                self.register_batch(body, writes_end).await
            }
            Route::Update(segment) => self.update(&path_user_id(segment)?, body).await,
            Route::Info(segment) => self.single(&path_user_id(segment)?, View::Info).await,
            Route::Profile(segment) => self.single(&path_user_id(segment)?, View::Profile).await,
            Route::Infos => self.batch(query, body, View::Info).await,
            Route::Profiles => self.batch(query, body, View::Profile).await,
        }
    }

    /// The path without the API Gateway stage (`/prod/...`) and without a
    /// configured custom-domain prefix, which is what the routes match.
    fn routing_path(&self, raw_path: &str, stage: Option<&str>) -> String {
        let without_stage = match stage {
            Some(stage) => strip_segment_prefix(raw_path, &format!("/{stage}")),
            None => raw_path,
        };
        // API Gateway normally strips the mapping key already; strip it
        // only where it is still there, never from the API's own paths.
        match &self.config.path_prefix {
            Some(prefix) if !without_stage.starts_with(BASE_PATH) => {
                strip_segment_prefix(without_stage, prefix).to_owned()
            }
            _ => without_stage.to_owned(),
        }
    }

    fn authenticate(&self, request: &Request, routing_path: &str, stage: Option<&str>) -> Result<(), ApiError> {
        let keys = match &self.config.auth {
            AuthMode::Disabled => return Ok(()),
            AuthMode::NoKeysConfigured => return Err(ApiError::BadToken),
            AuthMode::Keys(keys) => keys,
        };
        // Every form of the path the client may have signed: as received,
        // with and without the stage, and behind a custom-domain prefix.
        let mut paths = vec![request.raw_http_path().to_owned()];
        let other_forms = [
            Some(routing_path.to_owned()),
            stage.map(|stage| format!("/{stage}{routing_path}")),
            self.config
                .path_prefix
                .as_ref()
                .map(|prefix| format!("{prefix}{routing_path}")),
        ];
        // Each form once: every form costs an HMAC.
        for form in other_forms.into_iter().flatten() {
            if !paths.contains(&form) {
                paths.push(form);
            }
        }
        let signed = SignedRequest {
            method: request.method().as_str(),
            paths: &paths,
            query: request.uri().query(),
            headers: request.headers(),
            body: request.body(),
        };
        auth::verify(keys, &signed, self.config.require_qiniu_date, SystemTime::now()).map_err(|rejection| {
            match rejection {
                Rejection::BadToken => ApiError::BadToken,
                Rejection::Expired => ApiError::RequestExpired,
            }
        })
    }

    async fn register(&self, body: &[u8]) -> Result<Data, ApiError> {
        let user = users::parse_new_user(body).map_err(ApiError::BadRequest)?;
        let account = self
            .im
            .create_accounts(&[&user.user_id])
            .await?
            .pop()
            .ok_or(ApiError::Internal)?;
        self.store.insert_user(&user, &account).await?;
        Ok(None)
    }

    /// Registers every new user of the batch. `data` maps each user that was
    /// not (or not only) registered to the reason; it is absent when all were.
    async fn register_batch(&self, body: &[u8], writes_end: Instant) -> Result<Data, ApiError> {
        let users = users::parse_new_users(body).map_err(ApiError::BadRequest)?;
        let mut not_registered: BTreeMap<String, &'static str> = BTreeMap::new();

        let mut seen = HashSet::with_capacity(users.len());
        let mut first_occurrences: Vec<&NewUser> = Vec::with_capacity(users.len());
        for user in &users {
            if seen.insert(&user.user_id) {
                first_occurrences.push(user);
            } else {
                not_registered.insert(user.user_id.to_string(), REASON_REPEATED);
            }
        }

        // Which users exist, and IM accounts for all of them, at once: an
        // IM-id lease then costs no extra round trip. Accounts of users
        // found to exist are dropped (ids are unique, not contiguous).
        let ids: Vec<&UserId> = first_occurrences.iter().map(|u| &u.user_id).collect();
        let (existing, accounts) =
            futures_util::future::join(self.store.existing_user_ids(&ids), self.im.create_accounts(&ids)).await;
        let (existing, accounts): (HashSet<String>, _) = (existing?.into_iter().collect(), accounts?);
        if accounts.len() != ids.len() {
            tracing::error!(
                wanted = ids.len(),
                got = accounts.len(),
                "the IM provider skipped users"
            );
            return Err(ApiError::Internal);
        }
        let to_write: Vec<(&NewUser, _)> = first_occurrences
            .into_iter()
            .zip(accounts)
            .filter(|(user, _)| !existing.contains(user.user_id.as_str()))
            .collect();
        for id in existing {
            not_registered.insert(id, REASON_EXISTS);
        }
        if !to_write.is_empty() {
            for (id, reason) in self.store.insert_users(&to_write, writes_end).await {
                not_registered.insert(id, reason);
            }
        }

        if not_registered.is_empty() {
            Ok(None)
        } else {
            Ok(Some(to_raw_value(&not_registered).map_err(serialization)?))
        }
    }

    async fn update(&self, user_id: &UserId, body: &[u8]) -> Result<Data, ApiError> {
        let changes = users::parse_user_changes(body, user_id).map_err(ApiError::BadRequest)?;
        self.store.update_user(user_id, &changes).await?;
        Ok(None)
    }

    async fn single(&self, user_id: &UserId, view: View) -> Result<Data, ApiError> {
        let user = self.store.get_user(user_id).await?.ok_or(ApiError::UserNotFound)?;
        let data = match view {
            View::Info => to_raw_value(&user.info()),
            View::Profile => to_raw_value(&user.profile()),
        };
        Ok(Some(data.map_err(serialization)?))
    }

    /// Batch info/profile: request order, repeats collapsed, unknown ids left
    /// out.
    async fn batch(&self, query: Option<&str>, body: &[u8], view: View) -> Result<Data, ApiError> {
        let ids = users::parse_user_ids(query, body).map_err(ApiError::BadRequest)?;
        let id_refs: Vec<&UserId> = ids.iter().collect();
        let found = self.store.get_users(&id_refs).await?;
        let in_order = ids.iter().filter_map(|id| found.get(id.as_str()));
        let data = match view {
            View::Info => to_raw_value(&in_order.map(|user| user.info()).collect::<Vec<_>>()),
            View::Profile => to_raw_value(&in_order.map(|user| user.profile()).collect::<Vec<_>>()),
        };
        let data = data.map_err(serialization)?;
        if data.get().len() > MAX_REPLY_DATA_BYTES {
            return Err(ApiError::bad_request(
                "user_ids: the answer would exceed Lambda's 6 MB reply limit; ask for fewer users at a time",
            ));
        }
        Ok(Some(data))
    }
}

/// `/prod/server/user` without `/prod` → `/server/user`; only whole
/// segments are stripped.
fn strip_segment_prefix<'a>(path: &'a str, prefix: &str) -> &'a str {
    match path.strip_prefix(prefix) {
        Some(rest) if rest.starts_with('/') => rest,
        _ => path,
    }
}

/// When this request must be answered: the Lambda deadline less the time
/// to reply, or [`DEFAULT_BUDGET`] from `started` outside Lambda.
fn budget_end(request: &Request, started: Instant) -> Instant {
    // Lambda sends Unix time in ms; `cargo lambda watch` sends a duration
    // (600000), which is not a deadline and is ignored.
    const YEAR_2001_MS: u64 = 978_307_200_000;
    let lambda_deadline = request
        .lambda_context_ref()
        .map(|context| context.deadline)
        .filter(|deadline| *deadline > YEAR_2001_MS);
    let remaining = match lambda_deadline {
        Some(deadline_ms) => {
            let now_ms = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_millis() as u64);
            Duration::from_millis(deadline_ms.saturating_sub(now_ms)).saturating_sub(REPLY_MARGIN)
        }
        None => DEFAULT_BUDGET,
    };
    // Lambda allows at most 15 minutes; a larger value is not a deadline.
    started
        .checked_add(remaining.min(MAX_BUDGET))
        .unwrap_or(started + DEFAULT_BUDGET)
}

/// The API Gateway request id, else the Lambda request id.
fn request_id(request: &Request) -> String {
    let gateway_id = match request.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(context)) => context.request_id.clone(),
        Some(RequestContext::ApiGatewayV1(context)) => context.request_id.clone(),
        _ => None,
    };
    gateway_id
        .filter(|id| !id.is_empty())
        .or_else(|| request.lambda_context_ref().map(|context| context.request_id.clone()))
        .unwrap_or_default()
}

/// The API Gateway stage when it is a named one (`$default` adds nothing to
/// the path).
fn stage(request: &Request) -> Option<String> {
    let stage = match request.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(context)) => context.stage.clone(),
        Some(RequestContext::ApiGatewayV1(context)) => context.stage.clone(),
        _ => None,
    };
    stage.filter(|s| !s.is_empty() && s != "$default")
}

fn serialization(error: serde_json::Error) -> ApiError {
    tracing::error!(error = %error, "could not serialize a reply");
    ApiError::Internal
}

fn envelope(request_id: &str, result: Result<Data, ApiError>) -> Response<Body> {
    let (status, code, message, data, allow) = match &result {
        Ok(data) => (StatusCode::OK, 0, Cow::Borrowed("success"), data.as_deref(), None),
        Err(error) => {
            let allow = match error {
                ApiError::MethodNotAllowed(allow) => Some(*allow),
                _ => None,
            };
            (error.status(), error.code(), error.message(), None, allow)
        }
    };
    let envelope = Envelope {
        request_id,
        code,
        message: &message,
        data,
    };
    // Serializing strings, numbers and already-valid raw JSON cannot fail;
    // the fallback is there so that no path can panic.
    let body = serde_json::to_string(&envelope)
        .unwrap_or_else(|_| r#"{"request_id":"","code":500,"message":"internal error"}"#.to_owned());
    let mut response = Response::new(Body::Text(body));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    if let Ok(value) = HeaderValue::from_str(request_id) {
        headers.insert("x-reqid", value);
    }
    if let Some(allow) = allow {
        headers.insert(header::ALLOW, HeaderValue::from_static(allow));
    }
    response
}
