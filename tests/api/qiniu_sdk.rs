//! Signature verification against requests signed by the official Qiniu
//! Python SDK (`qiniu` on PyPI), through `tests/support/qiniu_sign.py`.

use crate::helpers::{spawn_app, spawn_app_with, Signing, TestApp, TestRequest, AK, HOST, SK};
use serde_json::{json, Value};
use std::io::Write;
use std::process::{Command, Stdio};

/// What the SDK would send for `method url` with optional JSON `body`.
struct SdkRequest {
    method: &'static str,
    url: String,
    body: Option<Value>,
    with_date: bool,
    ak: String,
    sk: String,
    headers: Value,
}

fn sdk(method: &'static str, path_and_query: &str) -> SdkRequest {
    SdkRequest {
        method,
        url: format!("https://{HOST}{path_and_query}"),
        body: None,
        with_date: false,
        ak: AK.into(),
        sk: SK.into(),
        headers: json!({}),
    }
}

impl SdkRequest {
    fn json(mut self, body: Value) -> Self {
        self.body = Some(body);
        self.headers = json!({"Content-Type": "application/json"});
        self
    }

    fn with_date(mut self) -> Self {
        self.with_date = true;
        self
    }

    fn key(mut self, ak: &str, sk: &str) -> Self {
        self.ak = ak.into();
        self.sk = sk.into();
        self
    }

    fn header(mut self, name: &str, value: &str) -> Self {
        self.headers[name] = json!(value);
        self
    }
}

/// Signs every request with the SDK (one Python process for all).
fn sign_with_sdk(requests: Vec<SdkRequest>) -> Vec<TestRequest> {
    let specs: Vec<Value> = requests
        .iter()
        .map(|r| {
            json!({
                "ak": r.ak, "sk": r.sk, "method": r.method, "url": r.url, "headers": r.headers,
                "body": r.body.as_ref().map(Value::to_string), "with_date": r.with_date,
            })
        })
        .collect();
    let python = std::env::var("QNLIVE_PYTHON").unwrap_or_else(|_| "python3".into());
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/support/qiniu_sign.py");
    let mut child = Command::new(&python)
        .arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("run {python} (set QNLIVE_PYTHON, or use scripts/test.sh): {e}"));
    child
        .stdin
        .take()
        .unwrap()
        .write_all(Value::Array(specs).to_string().as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "qiniu_sign.py failed (is the qiniu package installed?)"
    );
    let signed: Vec<Value> = serde_json::from_slice(&output.stdout).unwrap();
    signed
        .into_iter()
        .zip(requests)
        .map(|(wire, request)| TestRequest {
            method: request.method.into(),
            path: wire["path"].as_str().unwrap().into(),
            query: wire["query"].as_str().unwrap().into(),
            headers: wire["headers"]
                .as_object()
                .unwrap()
                .iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_owned()))
                .collect(),
            body: wire["body"].as_str().unwrap_or_default().as_bytes().to_vec(),
            stage: None,
            signing: Signing::AsIs,
            keep_header_case: false,
        })
        .collect()
}

fn sign_one(request: SdkRequest) -> TestRequest {
    sign_with_sdk(vec![request]).pop().unwrap()
}

async fn seeded() -> TestApp {
    let app = spawn_app().await;
    for id in ["a", "b", "a b"] {
        app.register(json!({"user_id": id})).await.assert_ok();
    }
    app
}

/// All seven endpoints, signed by the SDK with or without `X-Qiniu-Date`.
async fn all_endpoints_accept_sdk_signatures(with_date: bool) {
    let app = seeded().await;
    let mut requests = vec![
        sdk("POST", "/server/user/register").json(json!({"user_id": "new-1", "extends": {"k": "v"}})),
        sdk("POST", "/server/user/register/batch").json(json!([{"user_id": "new-2"}, {"user_id": "new-3"}])),
        sdk("PUT", "/server/user/a").json(json!({"nick": "A"})),
        sdk("GET", "/server/user/info/a"),
        sdk("GET", "/server/user/infos?user_ids=a&user_ids=b"),
        sdk("GET", "/server/user/profile/b"),
        sdk("GET", "/server/user/profiles?user_ids=b&user_ids=a"),
    ];
    if with_date {
        requests = requests.into_iter().map(SdkRequest::with_date).collect();
    }
    for request in sign_with_sdk(requests) {
        let has_date = request.headers.iter().any(|(k, _)| k == "X-Qiniu-Date");
        assert_eq!(has_date, with_date);
        let path = request.path.clone();
        app.send(request).await.assert_ok();
        eprintln!("accepted {path}");
    }
    assert_eq!(app.info("a").await.data()["nick"], "A");
    assert_eq!(
        app.stored_user_ids().await,
        ["a", "a b", "b", "new-1", "new-2", "new-3"]
    );
}

#[tokio::test]
async fn sdk_signatures_without_x_qiniu_date_are_accepted_on_every_endpoint() {
    all_endpoints_accept_sdk_signatures(false).await;
}

#[tokio::test]
async fn sdk_signatures_with_x_qiniu_date_are_accepted_on_every_endpoint() {
    all_endpoints_accept_sdk_signatures(true).await;
}

#[tokio::test]
async fn a_tampered_method_is_rejected() {
    let app = seeded().await;
    // POST /server/user/register signed, sent as PUT (an update of the user
    // called "register"): the route exists, the signature does not match.
    let mut request = sign_one(sdk("POST", "/server/user/register").json(json!({"user_id": "register"})));
    request.method = "PUT".into();
    app.send(request).await.assert_error(401, 401);
}

#[tokio::test]
async fn a_tampered_path_is_rejected() {
    let app = seeded().await;
    let mut request = sign_one(sdk("GET", "/server/user/profile/a"));
    request.path = "/server/user/profile/b".into();
    app.send(request).await.assert_error(401, 401);
}

#[tokio::test]
async fn a_tampered_query_is_rejected() {
    let app = seeded().await;
    let mut request = sign_one(sdk("GET", "/server/user/profiles?user_ids=a"));
    request.query = "user_ids=b".into();
    app.send(request).await.assert_error(401, 401);
}

#[tokio::test]
async fn a_tampered_body_is_rejected_and_nothing_is_written() {
    let app = seeded().await;
    let mut request = sign_one(sdk("POST", "/server/user/register").json(json!({"user_id": "c"})));
    request.body = br#"{"user_id":"d"}"#.to_vec();
    app.send(request).await.assert_error(401, 401);
    assert_eq!(app.stored_user_ids().await, ["a", "a b", "b"]);
}

#[tokio::test]
async fn a_tampered_x_qiniu_header_is_rejected() {
    let app = seeded().await;
    let signed = sign_one(
        sdk("GET", "/server/user/info/a")
            .with_date()
            .header("X-Qiniu-Meta", "one"),
    );
    app.send(signed.clone()).await.assert_ok();

    // A date still well-formed and fresh, but one second off what was signed.
    let mut date_changed = signed.clone();
    let date = &mut date_changed
        .headers
        .iter_mut()
        .find(|(k, _)| k == "X-Qiniu-Date")
        .unwrap()
        .1;
    let seconds = date.len() - 2;
    let replacement = if date.as_bytes()[seconds] == b'0' { "1" } else { "0" };
    date.replace_range(seconds..=seconds, replacement);
    app.send(date_changed).await.assert_error(401, 401);

    let mut meta_changed = signed.clone();
    meta_changed
        .headers
        .iter_mut()
        .find(|(k, _)| k == "X-Qiniu-Meta")
        .unwrap()
        .1 = "two".into();
    app.send(meta_changed).await.assert_error(401, 401);

    // An X-Qiniu-* header added after signing is signed content too.
    app.send(signed.header("X-Qiniu-Extra", "1"))
        .await
        .assert_error(401, 401);
}

#[tokio::test]
async fn header_names_are_accepted_in_any_case() {
    let app = seeded().await;
    let request = sign_one(
        sdk("GET", "/server/user/info/a")
            .with_date()
            .header("X-Qiniu-Meta", "v"),
    );
    // API Gateway lower-cases names; other front ends keep or upper-case them.
    for transform in [
        str::to_ascii_lowercase as fn(&str) -> String,
        str::to_ascii_uppercase,
        str::to_owned,
    ] {
        let mut variant = request.clone();
        variant.headers = variant.headers.iter().map(|(k, v)| (transform(k), v.clone())).collect();
        variant.keep_header_case = true;
        let event = variant.event();
        assert!(event["headers"].get(transform("X-Qiniu-Date")).is_some(), "{event}");
        app.send_event(&event).await.assert_ok();
    }
}

#[tokio::test]
async fn a_repeated_query_key_is_signed_and_read_as_a_list() {
    let app = seeded().await;
    let response = app
        .send(sign_one(sdk(
            "GET",
            "/server/user/infos?user_ids=b&user_ids=a&user_ids=b",
        )))
        .await;
    response.assert_ok();
    let ids = response.user_ids();
    assert_eq!(ids, ["b", "a"]);
}

#[tokio::test]
async fn a_percent_encoded_path_is_verified_as_sent_and_decoded_for_lookup() {
    let app = seeded().await;
    let request = sign_one(sdk("GET", "/server/user/info/a%20b"));
    assert_eq!(request.path, "/server/user/info/a%20b");
    let response = app.send(request).await;
    response.assert_ok();
    assert_eq!(response.data()["user_id"], "a b");
}

#[tokio::test]
async fn a_stage_prefixed_path_is_accepted_signed_with_or_without_the_stage() {
    let app = seeded().await;
    // The client calls https://host/prod/server/user/info/a and signs that.
    let mut with_stage = sign_one(sdk("GET", "/prod/server/user/info/a"));
    with_stage.path = "/server/user/info/a".into();
    with_stage.stage = Some("prod".into());
    app.send(with_stage).await.assert_ok();

    let mut without_stage = sign_one(sdk("GET", "/server/user/info/a"));
    without_stage.stage = Some("prod".into());
    app.send(without_stage).await.assert_ok();

    let mut other_stage = sign_one(sdk("GET", "/dev/server/user/info/a"));
    other_stage.path = "/server/user/info/a".into();
    other_stage.stage = Some("prod".into());
    app.send(other_stage).await.assert_error(401, 401);
}

#[tokio::test]
async fn a_custom_domain_path_prefix_is_accepted_when_configured() {
    let keys = format!("{AK}:{SK}");
    let with_prefix = spawn_app_with(&[("QINIU_KEYS", &keys), ("PATH_PREFIX", "/users")]).await;
    let without_prefix = spawn_app_with(&[("QINIU_KEYS", &keys)]).await;
    for app in [&with_prefix, &without_prefix] {
        app.register(json!({"user_id": "a"})).await.assert_ok();
    }
    // The client signed https://host/users/server/user/info/a; the API
    // mapping strips /users before the function sees the path.
    let mut request = sign_one(sdk("GET", "/users/server/user/info/a"));
    request.path = "/server/user/info/a".into();
    with_prefix.send(request.clone()).await.assert_ok();
    without_prefix.send(request).await.assert_error(401, 401);
}

#[tokio::test]
async fn every_configured_key_pair_is_accepted_for_rotation() {
    let app = spawn_app_with(&[("QINIU_KEYS", "old-ak:old-sk,new-ak:new-sk")]).await;
    let requests = sign_with_sdk(vec![
        sdk("POST", "/server/user/register")
            .json(json!({"user_id": "x"}))
            .key("old-ak", "old-sk"),
        sdk("GET", "/server/user/info/x").key("new-ak", "new-sk"),
        sdk("GET", "/server/user/info/x").key("old-ak", "new-sk"),
    ]);
    let [old, new, crossed] = <[TestRequest; 3]>::try_from(requests).unwrap();
    app.send(old).await.assert_ok();
    app.send(new).await.assert_ok();
    app.send(crossed).await.assert_error(401, 401);
}

#[tokio::test]
async fn a_rest_api_event_without_query_routes_and_authenticates() {
    let app = seeded().await;
    let signed = sign_one(sdk("GET", "/prod/server/user/profile/a").with_date());
    let headers: serde_json::Map<String, Value> = signed.headers.iter().map(|(k, v)| (k.clone(), json!(v))).collect();
    let multi: serde_json::Map<String, Value> = signed.headers.iter().map(|(k, v)| (k.clone(), json!([v]))).collect();
    let event = json!({
        "resource": "/{proxy+}",
        "path": "/server/user/profile/a",
        "httpMethod": "GET",
        "headers": headers,
        "multiValueHeaders": multi,
        "queryStringParameters": null,
        "multiValueQueryStringParameters": null,
        "pathParameters": {"proxy": "server/user/profile/a"},
        "stageVariables": null,
        "requestContext": {
            "accountId": "123456789012",
            "resourceId": "r",
            "stage": "prod",
            "requestId": crate::helpers::unique("rest"),
            "identity": {"sourceIp": "127.0.0.1"},
            "resourcePath": "/{proxy+}",
            "httpMethod": "GET",
            "apiId": "api",
            "path": "/prod/server/user/profile/a"
        },
        "body": null,
        "isBase64Encoded": false
    });
    let response = app.send_event(&event).await;
    response.assert_ok();
    assert_eq!(response.data()["user_id"], "a");
}

#[tokio::test]
async fn a_signature_without_base64_padding_is_accepted() {
    let app = seeded().await;
    let mut request = sign_one(sdk("GET", "/server/user/info/a"));
    let authorization = &mut request
        .headers
        .iter_mut()
        .find(|(k, _)| k == "Authorization")
        .unwrap()
        .1;
    assert!(
        authorization.ends_with('='),
        "SHA-1 signatures are padded: {authorization}"
    );
    *authorization = authorization.trim_end_matches('=').to_owned();
    app.send(request).await.assert_ok();
}
