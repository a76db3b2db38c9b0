//! Every row of the contract's error table, each answered in the envelope
//! with the contract's status, code and message.

use crate::helpers::{spawn_app, spawn_app_with, TestApp, TestRequest, AK, SK};
use serde_json::json;

#[tokio::test]
async fn malformed_json_is_400_naming_the_body() {
    let app = spawn_app().await;
    let response = app
        .send(TestRequest::new("POST", "/server/user/register").raw_body("application/json", b"{\"user_id\":"))
        .await;
    response.assert_error(400, 400);
    assert!(
        response.message().starts_with("body: malformed JSON"),
        "{}",
        response.message()
    );
}

#[tokio::test]
async fn a_missing_user_id_is_400_naming_the_field() {
    let app = spawn_app().await;
    let response = app.register(json!({"nick": "n"})).await;
    response.assert_error(400, 400);
    assert_eq!(response.message(), "user_id: required");
}

#[tokio::test]
async fn a_missing_authorization_header_is_401_bad_token() {
    let app = spawn_app().await;
    let response = app.send(TestRequest::get("/server/user/info/u").unsigned()).await;
    response.assert_error(401, 401);
    assert_eq!(response.message(), "bad token");
}

#[tokio::test]
async fn unknown_ak_and_wrong_signature_get_the_same_answer() {
    let app = spawn_app().await;
    let unknown_ak = app
        .send(TestRequest::get("/server/user/info/u").signed_with("other-ak", SK))
        .await;
    let wrong_sk = app
        .send(TestRequest::get("/server/user/info/u").signed_with(AK, "wrong-sk"))
        .await;
    for response in [&unknown_ak, &wrong_sk] {
        response.assert_error(401, 401);
        assert_eq!(response.message(), "bad token");
    }
}

#[tokio::test]
async fn malformed_authorization_headers_are_401() {
    let app = spawn_app().await;
    for header in [
        "",
        "Qiniu",
        "Qiniu ",
        "Qiniu test-ak",
        "Qiniu test-ak:",
        "Qiniu :c2ln",
        "Qiniu test-ak:not base64!",
        "Bearer abc",
        "qiniu test-ak:c2lnbmF0dXJl",
        "Qiniu test-ak:c2lnbmF0dXJl",
    ] {
        let response = app
            .send(
                TestRequest::get("/server/user/info/u")
                    .unsigned()
                    .header("Authorization", header),
            )
            .await;
        response.assert_error(401, 401);
        assert_eq!(response.message(), "bad token", "{header:?}");
    }
}

#[tokio::test]
async fn an_expired_x_qiniu_date_is_403() {
    let app = spawn_app().await;
    let stale = qnlive_user_api::edge::auth::format_qiniu_date(
        std::time::SystemTime::now() - std::time::Duration::from_secs(16 * 60),
    );
    let response = app
        .send(TestRequest::get("/server/user/info/u").header("X-Qiniu-Date", &stale))
        .await;
    response.assert_error(403, 403);
    assert_eq!(response.message(), "request expired");
}

#[tokio::test]
async fn a_date_from_the_future_beyond_15_minutes_is_403_and_within_is_accepted() {
    let app = spawn_app().await;
    app.register(json!({"user_id": "u"})).await.assert_ok();
    let now = std::time::SystemTime::now();
    let within = qnlive_user_api::edge::auth::format_qiniu_date(now + std::time::Duration::from_secs(14 * 60));
    let beyond = qnlive_user_api::edge::auth::format_qiniu_date(now + std::time::Duration::from_secs(16 * 60));
    app.send(TestRequest::get("/server/user/info/u").header("X-Qiniu-Date", &within))
        .await
        .assert_ok();
    app.send(TestRequest::get("/server/user/info/u").header("X-Qiniu-Date", &beyond))
        .await
        .assert_error(403, 403);
}

#[tokio::test]
async fn a_malformed_x_qiniu_date_is_403() {
    let app = spawn_app().await;
    for date in [
        "yesterday",
        "2026-11-30T00:00:00Z",
        "20261130T000000",
        "20261330T000000Z",
    ] {
        let response = app
            .send(TestRequest::get("/server/user/info/u").header("X-Qiniu-Date", date))
            .await;
        response.assert_error(403, 403);
        assert_eq!(response.message(), "request expired", "{date}");
    }
}

#[tokio::test]
async fn an_unknown_user_is_404_for_info_profile_and_update() {
    let app = spawn_app().await;
    for request in [
        TestRequest::get("/server/user/info/nobody"),
        TestRequest::get("/server/user/profile/nobody"),
        TestRequest::put("/server/user/nobody", &json!({"nick": "n"})),
    ] {
        let response = app.send(request).await;
        response.assert_error(404, 404);
        assert_eq!(response.message(), "user not found");
    }
    assert!(app.stored_user_ids().await.is_empty(), "an update never creates a user");
}

#[tokio::test]
async fn an_unknown_path_is_404() {
    let app = spawn_app().await;
    for path in ["/", "/server/users", "/server/user/info/a/b", "/other"] {
        app.send(TestRequest::get(path)).await.assert_error(404, 404);
    }
}

#[tokio::test]
async fn a_known_path_with_the_wrong_method_is_405_with_allow() {
    let app = spawn_app().await;
    let response = app.send(TestRequest::get("/server/user/register/batch")).await;
    response.assert_error(405, 405);
    assert_eq!(response.headers["allow"], "POST");
    let response = app.send(TestRequest::new("DELETE", "/server/user/info/u")).await;
    response.assert_error(405, 405);
    assert_eq!(response.headers["allow"], "GET");
}

#[tokio::test]
async fn registering_an_existing_user_is_409_with_code_10001_and_keeps_the_first() {
    let app = spawn_app().await;
    app.register(json!({"user_id": "u", "nick": "first"})).await.assert_ok();
    let before = app.profile("u").await;
    let response = app.register(json!({"user_id": "u", "nick": "second"})).await;
    response.assert_error(409, 10001);
    assert_eq!(response.message(), "user already exists");
    assert_eq!(app.profile("u").await.data(), before.data(), "never overwritten");
}

#[tokio::test]
async fn an_unreachable_database_is_503_with_code_602() {
    let client = crate::helpers::client().await;
    // Nothing listens on port 9 (discard) on loopback: every call fails to
    // connect, and the SDK's retries run out.
    let dead =
        aws_sdk_dynamodb::Client::from_conf(client.config().to_builder().endpoint_url("http://127.0.0.1:9").build());
    let table = crate::helpers::unique("unreachable");
    let app = TestApp {
        app: crate::helpers::build_test_app(
            crate::helpers::config(&table, &[("AUTH_DISABLED", "true")]),
            dead.clone(),
        ),
        store: qnlive_user_api::store::DynamoDbStore::new(dead, &table),
        table,
    };
    for request in [
        TestRequest::post("/server/user/register", &json!({"user_id": "u"})),
        TestRequest::post("/server/user/register/batch", &json!([{"user_id": "u"}])),
        TestRequest::get("/server/user/info/u"),
        TestRequest::get("/server/user/profiles").query("user_ids=u"),
        TestRequest::get("/server/user/infos").query("user_ids=u"),
        TestRequest::put("/server/user/u", &json!({"nick": "n"})),
    ] {
        let response = app.send(request).await;
        response.assert_error(503, 602);
        assert_eq!(response.message(), "database unavailable");
    }
}

#[tokio::test]
async fn an_unexpected_failure_is_500_internal_error_without_details() {
    // The configured table does not exist: a deployment mistake, not the
    // client's, and not transient.
    let client = crate::helpers::client().await;
    let table = crate::helpers::unique("missing");
    let app = TestApp {
        app: crate::helpers::build_test_app(
            crate::helpers::config(&table, &[("AUTH_DISABLED", "true")]),
            client.clone(),
        ),
        store: qnlive_user_api::store::DynamoDbStore::new(client, &table),
        table: table.clone(),
    };
    let response = app.info("u").await;
    response.assert_error(500, 500);
    assert_eq!(response.message(), "internal error");
    assert!(
        !response.body.to_string().contains(&table),
        "no detail reaches the client"
    );
}

#[tokio::test]
async fn without_keys_every_request_is_refused() {
    let app = spawn_app_with(&[]).await;
    app.send(TestRequest::get("/server/user/info/u").unsigned())
        .await
        .assert_error(401, 401);
    app.send(TestRequest::get("/server/user/info/u"))
        .await
        .assert_error(401, 401);
}

#[tokio::test]
async fn auth_disabled_lets_unsigned_requests_in() {
    let app = spawn_app_with(&[("AUTH_DISABLED", "true")]).await;
    app.send(TestRequest::post("/server/user/register", &json!({"user_id": "u"})).unsigned())
        .await
        .assert_ok();
}

#[tokio::test]
async fn a_body_over_1_mib_is_400_and_nothing_is_written() {
    let app = spawn_app().await;
    let big = json!({"user_id": "u", "nick": "x".repeat(1024 * 1024)});
    let response = app.register(big).await;
    response.assert_error(400, 400);
    assert_eq!(response.message(), "body: larger than 1 MiB");
    assert!(app.stored_user_ids().await.is_empty());
}

#[tokio::test]
async fn an_unauthenticated_request_gets_401_whatever_its_path_query_or_body_hold() {
    let app = spawn_app().await;
    for request in [
        TestRequest::get("/server/user/info/%00"),
        TestRequest::get(&format!("/server/user/profile/{}", "x".repeat(65))),
        TestRequest::get("/server/user/infos").query("user_ids="),
        TestRequest::post("/server/user/register", &json!({"user_id": ""})),
        TestRequest::new("POST", "/server/user/register/batch").raw_body("application/json", b"{"),
    ] {
        app.send(request.unsigned()).await.assert_error(401, 401);
    }
}

#[tokio::test]
async fn with_require_qiniu_date_a_signed_request_without_it_is_403() {
    let keys = format!("{AK}:{SK}");
    let app = spawn_app_with(&[("QINIU_KEYS", &keys), ("REQUIRE_QINIU_DATE", "true")]).await;
    let response = app.send(TestRequest::get("/server/user/info/u")).await;
    response.assert_error(403, 403);
    assert_eq!(response.message(), "request expired");
    let now = qnlive_user_api::edge::auth::format_qiniu_date(std::time::SystemTime::now());
    app.send(TestRequest::get("/server/user/info/u").header("X-Qiniu-Date", &now))
        .await
        .assert_error(404, 404);
    // Unsigned requests still learn nothing beyond 401.
    app.send(TestRequest::get("/server/user/info/u").unsigned())
        .await
        .assert_error(401, 401);
}

#[tokio::test]
async fn a_query_that_is_not_a_valid_url_query_is_400_not_a_crash() {
    let app = spawn_app().await;
    for query in ["user_ids=\"a\"", "user_ids=a b", "user_ids=<script>", "user_ids=a#b"] {
        let response = app.send(TestRequest::get("/server/user/infos").query(query)).await;
        response.assert_error(400, 400);
        assert!(
            response.message().starts_with("query: not a valid URL query"),
            "{query}: {}",
            response.message()
        );
    }
}

#[tokio::test]
async fn oversized_queries_and_headers_are_400() {
    let app = spawn_app().await;
    let long_query = "user_ids=a&".repeat(7_000);
    app.send(TestRequest::get("/server/user/infos").query(&long_query))
        .await
        .assert_error(400, 400);
    let response = app
        .send(TestRequest::get("/server/user/info/u").header("X-Padding", &"p".repeat(20_000)))
        .await;
    response.assert_error(400, 400);
    assert_eq!(response.message(), "headers: larger than 16 KiB");
}

#[tokio::test]
async fn a_host_header_that_is_not_a_host_is_401_not_a_crash() {
    let app = spawn_app().await;
    let mut request = TestRequest::get("/server/user/info/u");
    request.headers = vec![("Host".into(), "bad host/name".into())];
    app.send(request).await.assert_error(401, 401);
}
