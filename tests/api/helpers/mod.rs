//! Test harness: a real `App` on its own table in DynamoDB Local, fed API
//! Gateway HTTP API (2.0) events through `lambda_http`'s own parser, the
//! same way Lambda feeds the deployed function.

// The pieces every test suite shares live in the test-support crate; the
// test modules name them through here.
pub use qnlive_test_support::{dynamodb_local, event, fake_im, fault_proxy, local_secrets};

pub use dynamodb_local::dynamodb_endpoint;

pub use event::HttpApiEvent;
pub use qnlive_test_support::qiniu_token::independent_sign;

use qnlive_user_api::secrets::ReadPolicy;
use qnlive_user_api::store::DynamoDbStore;
use qnlive_user_api::{build_app, App, Config};
use serde_json::Value;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

pub const AK: &str = "test-ak";
pub const SK: &str = "test-sk-0123456789";
pub const HOST: &str = "api.example.com";

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// A name no other test (or earlier run) uses.
pub fn unique(prefix: &str) -> String {
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_nanos();
    format!("{prefix}-{nanos:x}-{}", COUNTER.fetch_add(1, Ordering::Relaxed))
}

pub async fn client() -> aws_sdk_dynamodb::Client {
    dynamodb_endpoint();
    qnlive_user_api::store::dynamodb_client().expect("AWS_REGION and credentials are set (scripts/test.sh)")
}

pub struct TestApp {
    pub app: App,
    pub store: DynamoDbStore,
    pub table: String,
}

/// A fresh table and an app that accepts the test key pair.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(&[("QINIU_KEYS", &format!("{AK}:{SK}"))]).await
}

/// A fresh table and an app configured by `vars` (plus `USERS_TABLE`).
pub async fn spawn_app_with(vars: &[(&str, &str)]) -> TestApp {
    spawn_app_reading_secrets(vars, ReadPolicy::DEFAULT).await
}

/// [`spawn_app_with`], its secrets read on `policy`'s timing.
pub async fn spawn_app_reading_secrets(vars: &[(&str, &str)], policy: ReadPolicy) -> TestApp {
    let client = client().await;
    let table = unique("users");
    let store = DynamoDbStore::new(client.clone(), &table);
    store.create_table().await.expect("create the test table");
    TestApp {
        app: build_test_app(config_with(&table, vars, policy), client),
        store,
        table,
    }
}

pub const IM_APP_ID: &str = "qnlive-test-app";
pub const IM_ADMIN_TOKEN: &str = "im-admin-token-5c1e9a";

/// A fresh table, a fake Lanying IM, and an app that registers users in it
/// (`IM_PROVIDER=maxim`).
pub async fn spawn_maxim_app() -> (TestApp, fake_im::FakeIm) {
    let im = fake_im::FakeIm::start(IM_APP_ID, IM_ADMIN_TOKEN).await;
    let app = spawn_app_with(&[
        ("QINIU_KEYS", &format!("{AK}:{SK}")),
        ("IM_PROVIDER", "maxim"),
        ("MAXIM_API_URL", &im.base_url()),
        ("MAXIM_APP_ID", IM_APP_ID),
        ("MAXIM_ADMIN_TOKEN", IM_ADMIN_TOKEN),
    ])
    .await;
    (app, im)
}

/// A fresh table, and an app whose DynamoDB calls go through `endpoint`
/// (a fault proxy); `store` and `stored_user_ids` still read directly.
pub async fn spawn_app_behind(endpoint: &str) -> TestApp {
    spawn_app().await.behind(endpoint).await
}

/// The function as `main.rs` builds it.
pub fn build_test_app(config: Config, client: aws_sdk_dynamodb::Client) -> App {
    build_app(config, client).expect("the app builds (the system's trust roots load)")
}

pub fn config(table: &str, vars: &[(&str, &str)]) -> Config {
    config_with(table, vars, ReadPolicy::DEFAULT)
}

/// `vars`, `USERS_TABLE`, and the standard AWS variables scripts/test.sh
/// sets (region, credentials, endpoints) unless `vars` has them.
pub fn config_with(table: &str, vars: &[(&str, &str)], policy: ReadPolicy) -> Config {
    let mut map: HashMap<String, String> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    map.insert("USERS_TABLE".into(), table.into());
    let lookup = |name: &str| {
        map.get(name)
            .cloned()
            .or_else(|| name.starts_with("AWS_").then(|| std::env::var(name).ok()).flatten())
    };
    Config::from_lookup_with(lookup, policy).expect("valid test configuration")
}

/// How a test request is authenticated.
#[derive(Clone, Debug)]
pub enum Signing {
    /// Signed by the independent signer below with this pair.
    Key { ak: String, sk: String },
    /// Sent with exactly the headers given.
    AsIs,
}

/// One request, as the client sends it, before API Gateway turns it into an
/// event.
#[derive(Clone, Debug)]
pub struct TestRequest {
    pub method: String,
    pub path: String,
    pub query: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub stage: Option<String>,
    pub signing: Signing,
    /// Send header names as given instead of lower-cased like API Gateway.
    pub keep_header_case: bool,
}

impl TestRequest {
    pub fn new(method: &str, path: &str) -> Self {
        TestRequest {
            method: method.into(),
            path: path.into(),
            query: String::new(),
            headers: vec![("Host".into(), HOST.into())],
            body: Vec::new(),
            stage: None,
            signing: Signing::Key {
                ak: AK.into(),
                sk: SK.into(),
            },
            keep_header_case: false,
        }
    }

    pub fn get(path: &str) -> Self {
        Self::new("GET", path)
    }

    pub fn post(path: &str, body: &Value) -> Self {
        Self::new("POST", path).json(body)
    }

    pub fn put(path: &str, body: &Value) -> Self {
        Self::new("PUT", path).json(body)
    }

    pub fn json(self, body: &Value) -> Self {
        self.raw_body("application/json", body.to_string().as_bytes())
    }

    pub fn raw_body(mut self, content_type: &str, body: &[u8]) -> Self {
        self.headers.retain(|(k, _)| !k.eq_ignore_ascii_case("content-type"));
        self.headers.push(("Content-Type".into(), content_type.into()));
        self.body = body.to_vec();
        self
    }

    pub fn query(mut self, query: &str) -> Self {
        self.query = query.into();
        self
    }

    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    pub fn signed_with(mut self, ak: &str, sk: &str) -> Self {
        self.signing = Signing::Key {
            ak: ak.into(),
            sk: sk.into(),
        };
        self
    }

    pub fn unsigned(mut self) -> Self {
        self.signing = Signing::AsIs;
        self
    }

    /// The headers as sent: with `Authorization` added when signing.
    pub fn final_headers(&self) -> Vec<(String, String)> {
        let mut headers = self.headers.clone();
        if let Signing::Key { ak, sk } = &self.signing {
            let token = independent_sign(sk, &self.method, &self.path, &self.query, &headers, &self.body);
            headers.push(("Authorization".into(), format!("Qiniu {ak}:{token}")));
        }
        headers
    }

    /// The API Gateway HTTP API (payload 2.0) event for this request.
    pub fn event(&self) -> Value {
        let raw_path = match &self.stage {
            Some(stage) => format!("/{stage}{}", self.path),
            None => self.path.clone(),
        };
        let mut event = HttpApiEvent::new(&self.method, &raw_path)
            .query(&self.query)
            .headers(&self.final_headers())
            .body(&self.body)
            .request_id(&unique("req"));
        if let Some(stage) = &self.stage {
            event = event.stage(stage);
        }
        if self.keep_header_case {
            event = event.keep_header_case();
        }
        event.to_json()
    }
}

/// What the function answered, already checked to be a well-formed
/// envelope whose `request_id` matches `X-Reqid`.
#[derive(Debug, Clone)]
pub struct TestResponse {
    pub status: u16,
    pub headers: lambda_http::http::HeaderMap,
    pub body: Value,
    /// The body exactly as sent.
    pub raw: String,
}

impl TestResponse {
    pub fn code(&self) -> i64 {
        self.body["code"].as_i64().unwrap()
    }

    pub fn message(&self) -> &str {
        self.body["message"].as_str().unwrap()
    }

    pub fn data(&self) -> &Value {
        &self.body["data"]
    }

    /// The `user_id`s of a batch answer, in order.
    pub fn user_ids(&self) -> Vec<&str> {
        let users = self.data().as_array().expect("data is an array");
        users.iter().map(|user| user["user_id"].as_str().unwrap()).collect()
    }

    #[track_caller]
    pub fn assert_ok(&self) -> &Self {
        assert_eq!((self.status, self.code()), (200, 0), "{:#}", self.body);
        assert_eq!(self.message(), "success");
        self
    }

    #[track_caller]
    pub fn assert_error(&self, status: u16, code: i64) -> &Self {
        assert_eq!((self.status, self.code()), (status, code), "{:#}", self.body);
        assert!(self.body.get("data").is_none(), "errors carry no data: {:#}", self.body);
        self
    }
}

impl TestApp {
    /// The same table and keys, with the app's DynamoDB calls going through
    /// `endpoint` (a fault proxy); `store` still reads directly.
    pub async fn behind(self, endpoint: &str) -> TestApp {
        let client = client().await;
        let proxied = aws_sdk_dynamodb::Client::from_conf(client.config().to_builder().endpoint_url(endpoint).build());
        TestApp {
            app: self.app_on_same_table(proxied),
            ..self
        }
    }

    /// A second app on the same table and keys, like another Lambda
    /// instance of the same function.
    pub async fn another_instance(&self) -> TestApp {
        TestApp {
            app: self.app_on_same_table(client().await),
            store: self.store.clone(),
            table: self.table.clone(),
        }
    }

    fn app_on_same_table(&self, client: aws_sdk_dynamodb::Client) -> App {
        build_test_app(config(&self.table, &[("QINIU_KEYS", &format!("{AK}:{SK}"))]), client)
    }

    pub async fn send(&self, request: TestRequest) -> TestResponse {
        self.send_event(&request.event()).await
    }

    /// Sends `request` as Lambda would with an invocation deadline of
    /// `deadline` from now.
    pub async fn send_with_deadline(&self, request: TestRequest, deadline: std::time::Duration) -> TestResponse {
        let mut context = lambda_http::Context::default();
        context.request_id = unique("lambda");
        context.deadline = (SystemTime::now() + deadline)
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_millis() as u64;
        self.send_event_in(&request.event(), Some(context)).await
    }

    /// Parses `event` with lambda_http exactly as the function does, then
    /// calls the handler.
    pub async fn send_event(&self, event: &Value) -> TestResponse {
        self.send_event_in(event, None).await
    }

    async fn send_event_in(&self, event: &Value, context: Option<lambda_http::Context>) -> TestResponse {
        use lambda_http::RequestExt;
        // What src/edge/lambda.rs does with each event before the handler.
        let mut payload: lambda_http::request::LambdaRequest =
            serde_json::from_str(&event.to_string()).expect("a valid API Gateway event");
        qnlive_user_api::edge::lambda::make_parseable(&mut payload);
        let mut request = lambda_http::Request::from(payload);
        if let Some(context) = context {
            request = request.with_lambda_context(context);
        }
        let response = self.app.handle(request).await;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let raw = match response.body() {
            lambda_http::Body::Text(text) => text.clone(),
            other => panic!("expected a text body, got {other:?}"),
        };
        let body: Value = serde_json::from_str(&raw).expect("a JSON body");
        assert_eq!(headers["content-type"], "application/json");
        let request_id = body["request_id"].as_str().expect("request_id in the envelope");
        assert!(!request_id.is_empty());
        assert_eq!(headers["x-reqid"], request_id, "X-Reqid matches the envelope");
        assert_eq!(
            body["request_id"],
            expected_request_id(event),
            "the caller's or the gateway's id"
        );
        assert!(body["code"].is_i64() && body["message"].is_string(), "{body:#}");
        TestResponse {
            status,
            headers,
            body,
            raw,
        }
    }

    pub async fn register(&self, user: Value) -> TestResponse {
        self.send(TestRequest::post("/server/user/register", &user)).await
    }

    pub async fn profile(&self, user_id: &str) -> TestResponse {
        self.send(TestRequest::get(&format!("/server/user/profile/{}", encode(user_id))))
            .await
    }

    pub async fn info(&self, user_id: &str) -> TestResponse {
        self.send(TestRequest::get(&format!("/server/user/info/{}", encode(user_id))))
            .await
    }

    /// Every user stored in the table (a scan), to prove what was or was not
    /// written.
    pub async fn stored_user_ids(&self) -> Vec<String> {
        let client = client().await;
        let mut ids: Vec<String> = client
            .scan()
            .table_name(&self.table)
            .send()
            .await
            .unwrap()
            .items()
            .iter()
            .filter_map(|item| item.get("user_id").and_then(|v| v.as_s().ok()).cloned())
            .collect();
        ids.sort();
        ids
    }
}

/// The contract's rule, written out here on its own: the caller's
/// `X-Reqid` when it is 1..=64 printable ASCII characters without spaces,
/// else the API Gateway request id.
fn expected_request_id(event: &Value) -> Value {
    let caller = event["headers"]
        .as_object()
        .and_then(|headers| headers.iter().find(|(name, _)| name.eq_ignore_ascii_case("x-reqid")))
        .and_then(|(_, value)| value.as_str());
    match caller {
        Some(id) if !id.is_empty() && id.len() <= 64 && id.bytes().all(|b| (b'!'..=b'~').contains(&b)) => id.into(),
        _ => event["requestContext"]["requestId"].clone(),
    }
}

/// Percent-encodes a path segment.
pub fn encode(segment: &str) -> String {
    percent_encoding::utf8_percent_encode(segment, percent_encoding::NON_ALPHANUMERIC).to_string()
}
