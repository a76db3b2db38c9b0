//! Secrets never reach a log: with logging at TRACE (the most an operator
//! can ask for), a run of good and bad requests logs no SK, no
//! `Authorization` value and no `im_password`.

use crate::helpers::{spawn_app, TestRequest, AK, SK};
use qnlive_user_api::telemetry::{self, LogSettings};
use serde_json::json;
use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};

/// Collects every log line in memory.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Captured {
    type Writer = Captured;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

/// Every log line of this test binary, at TRACE, as JSON: the first test
/// that asks installs the one global subscriber.
fn captured_logs() -> &'static Captured {
    static CAPTURED: OnceLock<Captured> = OnceLock::new();
    CAPTURED.get_or_init(|| {
        let captured = Captured::default();
        let settings = LogSettings {
            json: true,
            filter: "trace".into(),
        };
        assert!(telemetry::init(&settings, captured.clone()), "the only subscriber");
        captured
    })
}

fn log_text() -> String {
    String::from_utf8(captured_logs().0.lock().unwrap().clone()).unwrap()
}

#[tokio::test]
async fn the_callers_x_reqid_is_on_every_log_line_of_its_request() {
    captured_logs();
    // A table that does not exist: the request logs its error, then its
    // answer.
    let config = crate::helpers::config(&crate::helpers::unique("missing"), &[("AUTH_DISABLED", "true")]);
    let app = crate::helpers::build_test_app(config, crate::helpers::client().await);
    let request = TestRequest::get("/server/user/info/u").header("X-Reqid", "log-join-4b1d");
    let response = app.handle(lambda_http::Request::from(
        serde_json::from_value::<lambda_http::request::LambdaRequest>(request.event()).unwrap(),
    ));
    assert_eq!(response.await.status(), 500);

    let logs = log_text();
    let tagged: Vec<&str> = logs
        .lines()
        .filter(|line| line.contains(r#""request_id":"log-join-4b1d""#))
        .collect();
    assert!(tagged.iter().any(|line| line.contains("internal error")), "{logs}");
    assert!(tagged.iter().any(|line| line.contains("answered")), "{logs}");
}

#[tokio::test]
async fn logs_at_trace_hold_no_secret_key_authorization_or_im_password() {
    captured_logs();

    let app = spawn_app().await;
    let mut secrets = vec![SK.to_owned()];
    let requests = vec![
        TestRequest::post(
            "/server/user/register",
            &json!({"user_id": "u1", "extends": {"k": "v"}}),
        ),
        TestRequest::post("/server/user/register", &json!({"user_id": "u1"})),
        TestRequest::post(
            "/server/user/register/batch",
            &json!([{"user_id": "u2"}, {"user_id": "u3"}]),
        ),
        TestRequest::put("/server/user/u1", &json!({"nick": "n"})),
        TestRequest::get("/server/user/info/u1"),
        TestRequest::get("/server/user/profile/u1"),
        TestRequest::get("/server/user/profiles").query("user_ids=u1&user_ids=u2&user_ids=u3"),
        TestRequest::get("/server/user/infos").query("user_ids=u2"),
        TestRequest::get("/server/user/profile/u1").signed_with(AK, "wrong-secret"),
        TestRequest::get("/server/user/profile/u1").signed_with("unknown-ak", SK),
        TestRequest::post("/server/user/register", &json!({"user_id": ""})),
        TestRequest::get("/server/user/nowhere/at/all"),
    ];
    for request in requests {
        for (name, value) in request.final_headers() {
            if name.eq_ignore_ascii_case("authorization") {
                secrets.push(value.clone());
                secrets.push(value.trim_start_matches("Qiniu ").split(':').nth(1).unwrap().to_owned());
            }
        }
        let response = app.send(request).await;
        for user in response
            .data()
            .as_array()
            .cloned()
            .unwrap_or_else(|| vec![response.data().clone()])
        {
            if let Some(password) = user.get("im_password").and_then(|p| p.as_str()) {
                secrets.push(password.to_owned());
            }
        }
    }
    assert!(secrets.len() > 12, "the run produced passwords and tokens to look for");

    let logs = log_text();
    assert!(logs.contains("answered"), "the request log was captured");
    assert!(logs.lines().count() > 12, "{logs}");
    for secret in &secrets {
        assert!(!logs.contains(secret.as_str()), "a secret reached the log: {secret}");
    }
}

#[tokio::test]
async fn with_lanying_im_logs_hold_no_admin_token_and_no_im_password() {
    use crate::helpers::fake_im::{Call, Fault};
    captured_logs();
    let (app, im) = crate::helpers::spawn_maxim_app().await;
    // Success, adoption, a refusal, an outage, and the repairs after them:
    // every log line the IM step can write.
    im.preexisting("qladopted", "OldPassw0rd!");
    im.inject(Some(Call::Register), Fault::Code(10008), 1);
    for id in ["refused", "adopted", "fine"] {
        app.register(json!({"user_id": id})).await.assert_ok();
    }
    im.set_down(true).await;
    app.register(json!({"user_id": "outage"})).await.assert_ok();
    app.send(TestRequest::post(
        "/server/user/register/batch",
        &json!([{"user_id": "outage2"}]),
    ))
    .await
    .assert_ok();
    app.profile("outage").await.assert_ok();
    im.set_down(false).await;

    let mut secrets = vec![crate::helpers::IM_ADMIN_TOKEN.to_owned(), "OldPassw0rd!".to_owned()];
    for id in ["refused", "adopted", "fine", "outage", "outage2"] {
        let profile = app.profile(id).await;
        let password = profile.data()["im_password"].as_str().unwrap().to_owned();
        assert!(password.len() >= 16, "{id} is complete now");
        secrets.push(password);
    }
    let logs = log_text();
    assert!(
        logs.contains("IM unavailable") && logs.contains("IM refused"),
        "the failures were logged"
    );
    for secret in &secrets {
        assert!(!logs.contains(secret.as_str()), "a secret reached the log: {secret}");
    }
}

#[tokio::test]
async fn secrets_read_from_secrets_manager_never_reach_the_log() {
    use crate::helpers::fake_im::FakeIm;
    use crate::helpers::local_secrets::{LocalSecrets, SecretsGate};
    use crate::helpers::{spawn_app_reading_secrets, unique, IM_APP_ID};
    use qnlive_user_api::secrets::ReadPolicy;
    use std::time::Duration;
    captured_logs();

    let policy = ReadPolicy {
        reread_interval: Duration::from_millis(300),
        first_retry: Duration::from_millis(100),
        read_limit: Duration::from_secs(1),
    };
    let (sk, bad_sk, token, new_token) = (
        "sk-from-the-secret-8d1f",
        "sk-in-a-malformed-value-3c7a",
        "im-token-from-the-secret-51b0",
        "im-token-rotated-e94d",
    );
    let im = FakeIm::start(IM_APP_ID, token).await;
    let (gate, secrets) = (SecretsGate::start().await, LocalSecrets::new());
    let (keys_name, token_name) = (unique("qnlive/logs-keys"), unique("qnlive/logs-im"));
    secrets.create(&keys_name, &format!("logs-ak:{sk}")).await;
    secrets.create(&token_name, token).await;
    let app = spawn_app_reading_secrets(
        &[
            ("QINIU_KEYS_SECRET_ID", &keys_name),
            ("IM_PROVIDER", "maxim"),
            ("MAXIM_API_URL", &im.base_url()),
            ("MAXIM_APP_ID", IM_APP_ID),
            ("MAXIM_ADMIN_TOKEN_SECRET_ID", &token_name),
            ("AWS_ENDPOINT_URL_SECRETSMANAGER", &gate.endpoint),
        ],
        policy,
    )
    .await;
    app.app.warm_up(Duration::from_secs(5)).await;
    let register =
        |id: &str| TestRequest::post("/server/user/register", &json!({"user_id": id})).signed_with("logs-ak", sk);
    app.send(register("l1")).await.assert_ok();

    // A malformed value (read and refused), a rotated IM token (refused by
    // the IM, read again), and Secrets Manager gone (reads fail).
    secrets
        .put(&keys_name, &format!("logs-ak:{sk},broken-pair-{bad_sk}"))
        .await;
    secrets.put(&token_name, new_token).await;
    im.set_admin_token(new_token);
    tokio::time::sleep(policy.reread_interval).await;
    app.send(register("l2")).await.assert_ok();
    gate.shut();
    tokio::time::sleep(policy.reread_interval).await;
    app.send(register("l3")).await.assert_ok();

    // And an instance that never could read its keys: 503, and why.
    let missing_name = unique("qnlive/logs-missing");
    let missing = spawn_app_reading_secrets(
        &[
            ("QINIU_KEYS_SECRET_ID", &missing_name),
            ("AWS_ENDPOINT_URL_SECRETSMANAGER", &gate.endpoint),
        ],
        policy,
    )
    .await;
    gate.open();
    missing.send(register("l4")).await.assert_error(503, 503);

    let logs = log_text();
    assert!(
        logs.contains(&format!("could not read the Qiniu keys from secret {keys_name} again")),
        "{logs}"
    );
    assert!(
        logs.contains(&format!("could not read the Qiniu keys from secret {missing_name};"))
            && logs.contains("authentication unavailable: the Qiniu keys have not been read yet"),
        "{logs}"
    );
    assert!(logs.contains("refused the admin token"), "{logs}");
    for secret in [sk, bad_sk, token, new_token] {
        assert!(!logs.contains(secret), "a secret reached the log: {secret}");
    }
}
