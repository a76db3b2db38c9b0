//! The Qiniu keys and the Lanying IM admin token read from Secrets Manager
//! (moto, started by scripts/test.sh, behind a gate that counts the reads
//! and can drop or stall them): read once at start, read again at most
//! once per interval, a key added accepted and one removed refused within
//! it, an unreachable Secrets Manager answered 503 and never by letting a
//! request in.
//!
//! The rotation tests shorten the one-minute interval (`ReadPolicy`) rather
//! than wait minutes; the unit tests of `secrets::refresh` hold the
//! deployed timing on a paused clock.

use crate::helpers::fake_im::{Call, FakeIm};
use crate::helpers::local_secrets::{LocalSecrets, SecretsGate};
use crate::helpers::{spawn_app_reading_secrets, unique, TestApp, TestRequest, IM_APP_ID};
use qnlive_user_api::secrets::ReadPolicy;
use serde_json::json;
use std::time::{Duration, Instant};

const WARM_UP_LIMIT: Duration = Duration::from_secs(5);

/// Seconds, not a minute: long enough that the requests of a step all fall
/// inside one interval on a busy machine.
const SHORT: ReadPolicy = ReadPolicy {
    reread_interval: Duration::from_secs(2),
    first_retry: Duration::from_millis(200),
    read_limit: Duration::from_secs(1),
};

/// A secret holding `keys`, and an app that reads its keys from it through
/// a gate, started as Lambda starts it (init read).
async fn app_with_keys_secret(keys: &str, policy: ReadPolicy) -> (TestApp, SecretsGate, String) {
    let (gate, name) = (SecretsGate::start().await, unique("qnlive/keys"));
    LocalSecrets::new().create(&name, keys).await;
    let app = app_reading(&gate, &name, policy).await;
    app.app.warm_up(WARM_UP_LIMIT).await;
    (app, gate, name)
}

async fn app_reading(gate: &SecretsGate, keys_secret: &str, policy: ReadPolicy) -> TestApp {
    spawn_app_reading_secrets(
        &[
            ("QINIU_KEYS_SECRET_ID", keys_secret),
            ("AWS_ENDPOINT_URL_SECRETSMANAGER", &gate.endpoint),
        ],
        policy,
    )
    .await
}

fn info_signed_with(ak: &str, sk: &str) -> TestRequest {
    TestRequest::get("/server/user/info/nobody").signed_with(ak, sk)
}

/// 404 (the user does not exist): the signature was accepted.
async fn accepted(app: &TestApp, ak: &str, sk: &str) -> bool {
    let response = app.send(info_signed_with(ak, sk)).await;
    match response.status {
        404 => true,
        401 => false,
        _ => panic!("neither accepted nor refused: {:#}", response.body),
    }
}

#[tokio::test]
async fn keys_in_a_secret_are_read_once_at_start_and_sign_requests() {
    let (app, gate, _) = app_with_keys_secret("ak1:sk-one", ReadPolicy::DEFAULT).await;
    assert_eq!(gate.reads(), 1, "read at init");
    for _ in 0..20 {
        assert!(accepted(&app, "ak1", "sk-one").await);
    }
    assert!(!accepted(&app, "ak1", "not-sk-one").await);
    assert_eq!(gate.reads(), 1, "not read again within the minute");
}

#[tokio::test]
async fn a_key_added_to_the_secret_is_accepted_once_the_interval_has_passed() {
    let (app, gate, name) = app_with_keys_secret("ak1:sk-one", SHORT).await;
    LocalSecrets::new().put(&name, "ak1:sk-one,ak2:sk-two").await;
    assert!(
        !accepted(&app, "ak2", "sk-two").await,
        "not yet: read less than an interval ago"
    );
    assert_eq!(gate.reads(), 1);

    tokio::time::sleep(SHORT.reread_interval).await;
    assert!(accepted(&app, "ak2", "sk-two").await);
    assert!(
        accepted(&app, "ak1", "sk-one").await,
        "both pairs work during a rotation"
    );
    assert_eq!(gate.reads(), 2);
}

#[tokio::test]
async fn a_key_removed_from_the_secret_is_refused_once_the_interval_has_passed() {
    let (app, gate, name) = app_with_keys_secret("ak1:sk-one,ak2:sk-two", SHORT).await;
    assert!(accepted(&app, "ak1", "sk-one").await);
    LocalSecrets::new().put(&name, "ak2:sk-two").await;

    tokio::time::sleep(SHORT.reread_interval).await;
    assert!(!accepted(&app, "ak1", "sk-one").await, "removed");
    assert!(accepted(&app, "ak2", "sk-two").await);
    assert_eq!(gate.reads(), 2);
}

#[tokio::test]
async fn a_flood_of_unknown_access_keys_reads_the_secret_no_more_than_the_interval_allows() {
    let (app, gate, _) = app_with_keys_secret("ak1:sk-one", ReadPolicy::DEFAULT).await;
    for i in 0..200 {
        let response = app.send(info_signed_with(&format!("unknown-{i}"), "sk")).await;
        response.assert_error(401, 401);
    }
    app.send(TestRequest::get("/server/user/info/nobody").unsigned())
        .await
        .assert_error(401, 401);
    assert_eq!(gate.reads(), 1, "one read a minute, however many unknown AKs");
}

#[tokio::test]
async fn with_secrets_manager_unreachable_at_start_signed_requests_get_503_and_none_gets_in() {
    let (gate, name) = (SecretsGate::start().await, unique("qnlive/keys"));
    LocalSecrets::new().create(&name, "ak1:sk-one").await;
    gate.shut();
    let app = app_reading(&gate, &name, SHORT).await;
    app.app.warm_up(WARM_UP_LIMIT).await; // starts anyway

    let register = TestRequest::post("/server/user/register", &json!({"user_id": "u1"})).signed_with("ak1", "sk-one");
    let refused = app.send(register.clone()).await;
    refused.assert_error(503, 503);
    assert_eq!(refused.message(), "authentication unavailable");
    app.send(info_signed_with("ak1", "a-forged-signature"))
        .await
        .assert_error(503, 503);
    app.send(TestRequest::post("/server/user/register", &json!({"user_id": "u2"})).unsigned())
        .await
        .assert_error(401, 401);
    assert!(app.stored_user_ids().await.is_empty(), "nothing was let in");

    gate.open();
    tokio::time::sleep(SHORT.first_retry * 2).await;
    app.send(register).await.assert_ok();
    assert_eq!(app.stored_user_ids().await, ["u1"]);
}

#[tokio::test]
async fn a_secrets_manager_that_never_answers_holds_a_request_at_most_the_read_limit() {
    let (gate, name) = (SecretsGate::start().await, unique("qnlive/keys"));
    LocalSecrets::new().create(&name, "ak1:sk-one").await;
    gate.stall();
    let app = app_reading(&gate, &name, SHORT).await;

    let started = Instant::now();
    app.send(info_signed_with("ak1", "sk-one")).await.assert_error(503, 503);
    let first = started.elapsed();
    assert!(first >= SHORT.read_limit && first < SHORT.read_limit * 2, "{first:?}");
    let started = Instant::now();
    app.send(info_signed_with("ak1", "sk-one")).await.assert_error(503, 503);
    assert!(
        started.elapsed() < SHORT.read_limit / 2,
        "no second read right away: answered at once"
    );
    assert_eq!(gate.reads(), 1);
}

#[tokio::test]
async fn a_secret_that_is_missing_or_malformed_is_a_failed_read_and_keeps_the_keys_read_before() {
    let gate = SecretsGate::start().await;
    let missing = app_reading(&gate, &unique("qnlive/never-created"), SHORT).await;
    missing
        .send(info_signed_with("ak1", "sk-one"))
        .await
        .assert_error(503, 503);

    let (app, gate, name) = app_with_keys_secret("ak1:sk-one", SHORT).await;
    LocalSecrets::new()
        .put(&name, "ak1:sk-one,this is not a key pair")
        .await;
    tokio::time::sleep(SHORT.reread_interval).await;
    assert!(accepted(&app, "ak1", "sk-one").await);
    assert_eq!(gate.reads(), 2, "read, refused as malformed, the keys before kept");
}

#[tokio::test]
async fn an_im_admin_token_rotated_in_the_secret_is_read_again_when_the_im_refuses_the_old_one() {
    let im = FakeIm::start(IM_APP_ID, "im-token-one").await;
    let (gate, keys, token) = (SecretsGate::start().await, unique("qnlive/keys"), unique("qnlive/im"));
    let secrets = LocalSecrets::new();
    secrets
        .create(&keys, &format!("{}:{}", crate::helpers::AK, crate::helpers::SK))
        .await;
    secrets.create(&token, "im-token-one").await;
    let app = spawn_app_reading_secrets(
        &[
            ("QINIU_KEYS_SECRET_ID", &keys),
            ("IM_PROVIDER", "maxim"),
            ("MAXIM_API_URL", &im.base_url()),
            ("MAXIM_APP_ID", IM_APP_ID),
            ("MAXIM_ADMIN_TOKEN_SECRET_ID", &token),
            ("AWS_ENDPOINT_URL_SECRETSMANAGER", &gate.endpoint),
        ],
        SHORT,
    )
    .await;
    app.app.warm_up(WARM_UP_LIMIT).await;
    assert_eq!(gate.reads(), 2, "the keys and the token, at init");
    app.register(json!({"user_id": "before"})).await.assert_ok();

    // Rotated: the new token in the secret, the old one revoked in the IM.
    secrets.put(&token, "im-token-two").await;
    im.set_admin_token("im-token-two");
    tokio::time::sleep(SHORT.reread_interval).await;
    app.register(json!({"user_id": "after"})).await.assert_ok();
    // Within the register itself, not by a later read completing it.
    assert_eq!(
        im.calls(Call::Register),
        3,
        "refused once, then sent again with the new token"
    );
    assert!(im.account("qlafter").is_some());
    let profile = app.profile("after").await;
    let data = profile.data();
    let (username, password) = (
        data["im_username"].as_str().unwrap(),
        data["im_password"].as_str().unwrap(),
    );
    assert!(
        im.logs_in(username, password).is_some(),
        "registered with the new token: {data}"
    );

    // A token refused again (revoked, the secret not updated) leaves the
    // user pending: the secret, if read again, still holds the refused
    // token, so the call is not sent twice.
    im.set_admin_token("im-token-three");
    app.register(json!({"user_id": "pending"})).await.assert_ok();
    assert_eq!(
        im.calls(Call::Register),
        4,
        "one refused call, no retry with the same token"
    );
    assert!(im.account("qlpending").is_none());
}
