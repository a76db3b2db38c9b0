//! The Lambda edge: what every request gets before and after its use case.
//! In order: the request id and time budget, size limits, routing (404 and
//! 405), authentication, then the endpoint; every outcome becomes the
//! contract's JSON envelope. It knows the use cases and the domain, never
//! the store.

pub mod auth;
pub mod decode;
mod endpoints;
mod envelope;
pub mod error;
pub mod lambda;
mod request;
pub mod routes;

pub use endpoints::MAX_REPLY_DATA_BYTES;
pub use request::{DEFAULT_BUDGET, REPLY_MARGIN};

use crate::metrics::{self, RequestMetrics};
use crate::secrets::Refreshing;
use crate::usecases::UserService;
use auth::{KeyRing, SignedRequest};
use envelope::Data;
use error::ApiError;
use lambda::REJECTED_PART_HEADER;
use lambda_http::{Body, Request, Response};
use request::RequestPath;
use routes::Route;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime};
use tokio::time::Instant;
use tracing::Instrument;

/// The contract's limit on request bodies.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;
/// Far above what API Gateway forwards (10 KiB); a bound for other callers.
pub const MAX_HEADER_BYTES: usize = 16 * 1024;
/// Use cases stop working (batch write retries, IM calls) this long before
/// the budget ends, so that what they did is reported rather than lost in
/// a 503.
const WORK_MARGIN: Duration = Duration::from_millis(300);

/// How the edge treats requests, from the configuration.
#[derive(Clone, Debug)]
pub struct EdgeSettings {
    pub auth: AuthMode,
    /// A custom domain's API mapping key (e.g. `/users`), which API Gateway
    /// strips before the function sees the path but the client signed.
    pub path_prefix: Option<String>,
    /// Refuse signed requests without a signed `X-Qiniu-Date`, so that a
    /// captured request cannot be replayed after 15 minutes.
    pub require_qiniu_date: bool,
    /// The CloudWatch namespace of the per-request metrics line; `None`
    /// writes no metrics.
    pub metrics_namespace: Option<String>,
}

#[derive(Clone, Debug)]
pub enum AuthMode {
    /// Requests must carry a valid token made with one of these keys: fixed
    /// (from the environment) or read from Secrets Manager, and then read
    /// again at most once a minute, so that a key added to the secret is
    /// accepted, and one removed refused, within a minute.
    Keys(Refreshing<KeyRing>),
    /// `AUTH_DISABLED=true`: every request is let in.
    Disabled,
    /// Neither keys nor an explicit opt-out: every request is refused.
    NoKeysConfigured,
}

/// The function: settings and the user service, for the life of the
/// instance.
pub struct App {
    settings: EdgeSettings,
    users: UserService,
    /// Whether a request has been served yet: the first one is the cold
    /// start's.
    served: AtomicBool,
    /// Where the metrics lines go: stdout, which Lambda sends to CloudWatch.
    metrics_out: Box<dyn Fn(&str) + Send + Sync>,
}

/// The request was still running when its budget ended.
#[derive(Debug, thiserror::Error)]
#[error("the request ran out of time: DynamoDB is stalled or slow")]
struct OutOfTime;

impl App {
    pub fn new(settings: EdgeSettings, users: UserService) -> Self {
        match &settings.auth {
            AuthMode::Keys(keys) => match keys.current() {
                Some(ring) => {
                    tracing::info!(access_keys = ?ring.access_keys().collect::<Vec<_>>(), "authentication on")
                }
                None => tracing::info!("authentication on, with keys read from {keys:?}"),
            },
            AuthMode::Disabled => tracing::warn!("AUTH_DISABLED=true: requests are not authenticated"),
            AuthMode::NoKeysConfigured => tracing::error!(
                "neither QINIU_KEYS_SECRET_ID nor QINIU_KEYS is set, and AUTH_DISABLED is not true: \
                 every request will be refused with 401"
            ),
        }
        App {
            settings,
            users,
            served: AtomicBool::new(false),
            metrics_out: Box::new(|line| println!("{line}")),
        }
    }

    /// Sends the metrics lines to `out` instead of stdout (tests).
    pub fn with_metrics_out(mut self, out: impl Fn(&str) + Send + Sync + 'static) -> Self {
        self.metrics_out = Box::new(out);
        self
    }

    /// Init-time work, bounded so that an unreachable DynamoDB or Secrets
    /// Manager delays the start by at most `limit`: the keys are read and
    /// DynamoDB warmed up at the same time. A failure is logged and left
    /// for later requests to retry.
    pub async fn warm_up(&self, limit: Duration) {
        let keys = async {
            if let AuthMode::Keys(keys) = &self.settings.auth {
                keys.refreshed().await;
            }
        };
        let started = Instant::now();
        let (warmed_up, _) = tokio::join!(
            tokio::time::timeout(limit, self.users.warm_up()),
            tokio::time::timeout(limit, keys)
        );
        match warmed_up {
            Ok(Ok(())) => tracing::info!(
                elapsed_ms = started.elapsed().as_secs_f64() * 1000.0,
                "ready: DynamoDB connection open"
            ),
            Ok(Err(e)) => tracing::warn!(
                error = %crate::telemetry::ErrorChain(&e),
                "could not warm up at start-up; the first request will retry"
            ),
            Err(_) => tracing::warn!("warming up took over {limit:?}; the first request will retry"),
        }
    }

    /// Answers one request. Never fails: every error is an envelope.
    pub async fn handle(&self, request: Request) -> Response<Body> {
        let started = Instant::now();
        let request_id = request::request_id(&request);
        let span = tracing::info_span!(
            "request",
            request_id = %request_id,
            method = %request.method(),
            route = tracing::field::Empty
        );
        async {
            let budget_end = request::budget_end(&request, started);
            let path = RequestPath::of(&request, self.settings.path_prefix.as_deref());
            let routed = self.route(&request, &path);
            // Known as soon as the route is, for the log and the metrics,
            // even if the request then fails.
            let route_name = routed.as_ref().map_or("none", Route::name);
            if routed.is_ok() {
                tracing::Span::current().record("route", route_name);
            }
            // On the heap: the use cases' futures are large, and a test's
            // (or a debug build's) stack is not.
            let work = Box::pin(async { self.serve(&request, &path, routed?, budget_end).await });
            let (result, counted) = metrics::measured(async { tokio::time::timeout_at(budget_end, work).await }).await;
            let result = result.unwrap_or_else(|_| Err(ApiError::DatabaseUnavailable(OutOfTime.into())));
            let code = result.as_ref().map_or_else(ApiError::code, |_| 0);
            let response = envelope::reply(&request_id, &result);
            let latency = started.elapsed();
            tracing::info!(
                status = response.status().as_u16(),
                code,
                elapsed_ms = latency.as_millis() as u64,
                "answered"
            );
            if let Some(namespace) = &self.settings.metrics_namespace {
                let line = RequestMetrics {
                    namespace,
                    route: route_name,
                    status: response.status().as_u16(),
                    latency_ms: latency.as_secs_f64() * 1000.0,
                    cold_start: !self.served.swap(true, Ordering::Relaxed),
                    counted,
                    request_id: &request_id,
                };
                (self.metrics_out)(&line.to_emf(request::unix_millis()));
            }
            response
        }
        .instrument(span)
        .await
    }

    /// The endpoint a request names, once it has passed the checks that
    /// need no key or body.
    fn route<'p>(&self, request: &Request, path: &'p RequestPath) -> Result<Route<'p>, ApiError> {
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
        routes::route(request.method(), &path.routed)
    }

    /// Everything after routing but the reply.
    async fn serve(
        &self,
        request: &Request,
        path: &RequestPath,
        route: Route<'_>,
        budget_end: Instant,
    ) -> Result<Data, ApiError> {
        let body: &[u8] = request.body();
        if body.len() > MAX_BODY_BYTES {
            return Err(ApiError::bad_request("body: larger than 1 MiB"));
        }
        self.authenticate(request, path).await?;

        let input = endpoints::Input {
            query: request.uri().query(),
            body,
            work_end: budget_end.checked_sub(WORK_MARGIN).unwrap_or(budget_end),
        };
        endpoints::call(&self.users, route, input).await
    }

    async fn authenticate(&self, request: &Request, path: &RequestPath) -> Result<(), ApiError> {
        let keys = match &self.settings.auth {
            AuthMode::Disabled => return Ok(()),
            AuthMode::NoKeysConfigured => return Err(ApiError::BadToken),
            AuthMode::Keys(keys) => keys,
        };
        // Refused without the keys: an unsigned request neither waits for
        // a read of them nor learns whether they could be read.
        if !auth::has_token(request.headers()) {
            return Err(ApiError::BadToken);
        }
        // Read again first when a minute has passed since the last read (so
        // that an unknown AK may be one just added, and a removed one is
        // refused): at most once a minute, and waiting at most the read
        // limit (1.5 s), whatever the traffic.
        let keys = keys.refreshed().await.ok_or(ApiError::KeysUnavailable)?;
        let signed = SignedRequest {
            method: request.method().as_str(),
            paths: &path.signed_forms,
            query: request.uri().query(),
            headers: request.headers(),
            body: request.body(),
        };
        Ok(auth::verify(
            &keys,
            &signed,
            self.settings.require_qiniu_date,
            SystemTime::now(),
        )?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::usecases::testing::local_service;
    use lambda_http::{Context, RequestExt};
    use qnlive_test_support::event::HttpApiEvent;
    use qnlive_test_support::qiniu_token::independent_sign;
    use std::time::UNIX_EPOCH;

    fn open_app(users: UserService) -> App {
        let settings = EdgeSettings {
            auth: AuthMode::Disabled,
            path_prefix: None,
            require_qiniu_date: false,
            metrics_namespace: None,
        };
        App::new(settings, users)
    }

    /// `event` as Lambda hands it over, with `left` until its deadline.
    fn invocation(event: HttpApiEvent, left: Duration) -> Request {
        let deadline = SystemTime::now() + left;
        let mut context = Context::default();
        context.deadline = deadline.duration_since(UNIX_EPOCH).unwrap().as_millis() as u64;
        lambda_http::request::from_str(&event.to_json().to_string())
            .unwrap()
            .with_lambda_context(context)
    }

    /// `event` with time to spare: for tests where the deadline plays no part.
    fn with_ample_time(event: HttpApiEvent) -> Request {
        invocation(event, Duration::from_secs(10))
    }

    fn reply_json(response: &Response<Body>) -> serde_json::Value {
        serde_json::from_slice(response.body()).unwrap()
    }

    fn envelope_code(response: &Response<Body>) -> u64 {
        reply_json(response)["code"].as_u64().unwrap()
    }

    #[tokio::test(start_paused = true)]
    async fn a_body_of_1_mib_is_read_and_one_byte_more_is_refused() {
        let (users, _table) = local_service();
        let app = open_app(users);
        let user = br#"{"user_id": "u"}"#;
        let mut body = user.to_vec();
        // JSON allows any amount of trailing white space.
        body.resize(1 << 20, b' ');
        let event = HttpApiEvent::new("POST", "/server/user/register").body(&body);
        let response = app.handle(with_ample_time(event)).await;
        assert_eq!(response.status().as_u16(), 200, "{:?}", reply_json(&response));
        body.push(b' ');
        let event = HttpApiEvent::new("POST", "/server/user/register").body(&body);
        let response = app.handle(with_ample_time(event)).await;
        assert_eq!(response.status().as_u16(), 400);
        assert_eq!(reply_json(&response)["message"], "body: larger than 1 MiB");
    }

    #[tokio::test(start_paused = true)]
    async fn headers_of_16_kib_are_read_and_one_byte_more_is_refused() {
        let (users, _table) = local_service();
        let app = open_app(users);
        // Names and values, as the edge counts them.
        let request_with_padding = |padding: usize| {
            let event = HttpApiEvent::new("GET", "/server/user/info/u").header("x-padding", &"p".repeat(padding));
            with_ample_time(event)
        };
        let counted: usize = request_with_padding(0)
            .headers()
            .iter()
            .map(|(name, value)| name.as_str().len() + value.len())
            .sum();
        let at_limit = (16 << 10) - counted;
        let response = app.handle(request_with_padding(at_limit)).await;
        assert_eq!(response.status().as_u16(), 404, "{:?}", reply_json(&response));
        let response = app.handle(request_with_padding(at_limit + 1)).await;
        assert_eq!(response.status().as_u16(), 400);
        assert_eq!(reply_json(&response)["message"], "headers: larger than 16 KiB");
    }

    #[tokio::test(start_paused = true)]
    async fn a_path_or_query_lambda_could_not_read_is_named_in_the_400() {
        let (users, _table) = local_service();
        let app = open_app(users);
        for part in ["path", "query"] {
            let event = HttpApiEvent::new("GET", "/server/user/info/u").header(REJECTED_PART_HEADER, part);
            let response = app.handle(with_ample_time(event)).await;
            assert_eq!(response.status().as_u16(), 400);
            let message = reply_json(&response)["message"].as_str().unwrap().to_owned();
            assert!(
                message.starts_with(&format!("{part}: not a valid URL {part}")),
                "{message}"
            );
        }
    }

    #[tokio::test(start_paused = true)]
    async fn the_metrics_line_has_the_latency_in_ms_and_only_the_first_request_is_cold() {
        let (users, table) = local_service();
        let lines = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let written = lines.clone();
        let mut app = open_app(users).with_metrics_out(move |line| written.lock().unwrap().push(line.to_owned()));
        app.settings.metrics_namespace = Some("Test".into());
        table.inject(|faults| faults.stall = true);
        let mut took = Vec::new();
        for _ in 0..2 {
            let event = HttpApiEvent::new("GET", "/server/user/info/u");
            let started = Instant::now();
            app.handle(invocation(event, Duration::from_secs(3))).await;
            took.push(started.elapsed().as_secs_f64() * 1000.0);
        }
        let lines = lines.lock().unwrap();
        let field = |i: usize, name: &str| serde_json::from_str::<serde_json::Value>(&lines[i]).unwrap()[name].clone();
        for (i, took_ms) in took.into_iter().enumerate() {
            // Paused time: the stall lasts until the budget ends, exactly.
            let latency = field(i, "Latency").as_f64().unwrap();
            assert!((latency - took_ms).abs() < 1.0, "{latency} ms for {took_ms} ms");
        }
        assert_eq!((field(0, "ColdStart"), field(1, "ColdStart")), (1.into(), 0.into()));
    }

    /// `GET /server/user/info/u` to host `h`, signed with `sk`.
    fn signed_info(ak: &str, sk: &str) -> Request {
        let path = "/server/user/info/u";
        let headers = [("host".to_owned(), "h".to_owned())];
        let token = independent_sign(sk, "GET", path, "", &headers, b"");
        let event = HttpApiEvent::new("GET", path)
            .header("host", "h")
            .header("authorization", &format!("Qiniu {ak}:{token}"));
        with_ample_time(event)
    }

    #[tokio::test(start_paused = true)]
    async fn with_keys_only_a_request_signed_with_one_of_them_gets_in() {
        let (users, _table) = local_service();
        let keys = KeyRing::parse("ak1:sk1").unwrap();
        let mut app = open_app(users);
        app.settings.auth = AuthMode::Keys(Refreshing::fixed("the keys", keys));
        let status = |response: Response<Body>| response.status().as_u16();
        // In: the user is unknown.
        assert_eq!(status(app.handle(signed_info("ak1", "sk1")).await), 404);
        assert_eq!(status(app.handle(signed_info("ak1", "another sk")).await), 401);
        assert_eq!(status(app.handle(signed_info("ak2", "sk1")).await), 401);
        let unsigned = with_ample_time(HttpApiEvent::new("GET", "/server/user/info/u"));
        assert_eq!(status(app.handle(unsigned).await), 401);
    }

    #[tokio::test(start_paused = true)]
    async fn without_keys_or_an_opt_out_every_request_is_refused() {
        let (users, _table) = local_service();
        let mut app = open_app(users);
        app.settings.auth = AuthMode::NoKeysConfigured;
        assert_eq!(app.handle(signed_info("ak1", "sk1")).await.status().as_u16(), 401);
    }

    #[tokio::test(start_paused = true)]
    async fn warming_up_waits_for_the_database_at_most_its_limit() {
        let (users, table) = local_service();
        table.inject(|faults| faults.stall = true);
        let app = open_app(users);
        let started = Instant::now();
        app.warm_up(Duration::from_millis(1_500)).await;
        assert_eq!(started.elapsed(), Duration::from_millis(1_500));
    }

    #[tokio::test(start_paused = true)]
    async fn a_stalled_database_gives_503_before_the_lambda_deadline() {
        let (users, table) = local_service();
        table.inject(|faults| faults.stall = true);
        let app = open_app(users);
        let requests = [
            HttpApiEvent::new("POST", "/server/user/register").body(br#"{"user_id": "u"}"#),
            HttpApiEvent::new("POST", "/server/user/register/batch").body(br#"[{"user_id": "u"}]"#),
            HttpApiEvent::new("GET", "/server/user/profiles").query("user_ids=u"),
        ];
        for event in requests {
            let started = Instant::now();
            // A Lambda invocation with 3 s left: the answer must come before.
            let response = app.handle(invocation(event, Duration::from_secs(3))).await;
            let elapsed = started.elapsed();
            assert_eq!((response.status().as_u16(), envelope_code(&response)), (503, 602));
            assert!(elapsed < Duration::from_millis(2_900), "answered after {elapsed:?}");
            assert!(
                elapsed >= Duration::from_millis(2_000),
                "gave up early, after {elapsed:?}"
            );
        }
    }
}
