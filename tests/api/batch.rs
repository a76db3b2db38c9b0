//! Batch register and batch gets: limits, reporting, order, repeats.

use crate::helpers::{spawn_app, TestApp, TestRequest};
use serde_json::{json, Value};
use std::collections::HashSet;

fn users(ids: impl IntoIterator<Item = String>) -> Value {
    Value::Array(
        ids.into_iter()
            .map(|id| json!({"user_id": id, "nick": format!("nick of {id}")}))
            .collect(),
    )
}

fn ids(range: std::ops::Range<usize>) -> Vec<String> {
    range.map(|i| format!("user-{i:03}")).collect()
}

async fn register_batch(app: &TestApp, body: &Value) -> crate::helpers::TestResponse {
    app.send(TestRequest::post("/server/user/register/batch", body)).await
}

#[tokio::test]
async fn two_hundred_users_register_in_one_request() {
    let app = spawn_app().await;
    let response = register_batch(&app, &users(ids(0..200))).await;
    response.assert_ok();
    assert!(response.body.get("data").is_none(), "{:#}", response.body);
    assert_eq!(app.stored_user_ids().await, ids(0..200));

    let query: Vec<String> = ids(0..200).iter().map(|id| format!("user_ids={id}")).collect();
    let profiles = app
        .send(TestRequest::get("/server/user/profiles").query(&query.join("&")))
        .await;
    profiles.assert_ok();
    assert_eq!(profiles.user_ids(), ids(0..200));
    let im_ids: HashSet<i64> = profiles
        .data()
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["im_userid"].as_i64().unwrap())
        .collect();
    assert_eq!(im_ids.len(), 200, "every user has its own im_userid");
    assert_eq!(profiles.data()[7]["nick"], "nick of user-007");
}

#[tokio::test]
async fn the_201st_user_is_rejected_and_nothing_is_written() {
    let app = spawn_app().await;
    let response = register_batch(&app, &users(ids(0..201))).await;
    response.assert_error(400, 400);
    assert_eq!(response.message(), "body: at most 200 users per request, got 201");
    assert!(app.stored_user_ids().await.is_empty());
}

#[tokio::test]
async fn an_empty_batch_is_400() {
    let app = spawn_app().await;
    register_batch(&app, &json!([])).await.assert_error(400, 400);
}

#[tokio::test]
async fn existing_and_repeated_ids_are_reported_and_the_rest_registered() {
    let app = spawn_app().await;
    app.register(json!({"user_id": "old", "nick": "kept"}))
        .await
        .assert_ok();
    let body = json!([
        {"user_id": "new-1"},
        {"user_id": "old", "nick": "overwritten?"},
        {"user_id": "twice", "nick": "first"},
        {"user_id": "twice", "nick": "second"},
        {"user_id": "new-2"},
    ]);
    let response = register_batch(&app, &body).await;
    response.assert_ok();
    assert_eq!(
        response.data(),
        &json!({
            "old": "user already exists",
            "twice": "repeated in this request: only its first occurrence was registered",
        })
    );
    assert_eq!(app.stored_user_ids().await, ["new-1", "new-2", "old", "twice"]);
    assert_eq!(
        app.info("old").await.data()["nick"],
        "kept",
        "existing users are never overwritten"
    );
    assert_eq!(app.info("twice").await.data()["nick"], "first");
}

#[tokio::test]
async fn a_batch_of_only_existing_users_changes_nothing_and_reports_each() {
    let app = spawn_app().await;
    register_batch(&app, &users(ids(0..3))).await.assert_ok();
    let query = "user_ids=user-000&user_ids=user-001&user_ids=user-002";
    let before = app.send(TestRequest::get("/server/user/profiles").query(query)).await;

    let again: Value = ids(0..3)
        .into_iter()
        .map(|id| json!({"user_id": id, "nick": "changed?"}))
        .collect();
    let response = register_batch(&app, &again).await;
    response.assert_ok();
    let expected: serde_json::Map<String, Value> = ids(0..3)
        .into_iter()
        .map(|id| (id, json!("user already exists")))
        .collect();
    assert_eq!(response.data(), &Value::Object(expected));

    let after = app.send(TestRequest::get("/server/user/profiles").query(query)).await;
    assert_eq!(after.data(), before.data(), "nick and IM credentials untouched");
}

#[tokio::test]
async fn one_invalid_user_rejects_the_whole_batch() {
    let app = spawn_app().await;
    let body = json!([{"user_id": "fine"}, {"user_id": "bad", "extends": {"k": 1}}]);
    let response = register_batch(&app, &body).await;
    response.assert_error(400, 400);
    assert_eq!(response.message(), "users[1].extends.k: must be a string");
    assert!(app.stored_user_ids().await.is_empty());
}

#[tokio::test]
async fn batch_gets_keep_request_order_collapse_repeats_and_skip_unknown_ids() {
    let app = spawn_app().await;
    register_batch(&app, &users(ids(0..5))).await.assert_ok();
    for path in ["/server/user/infos", "/server/user/profiles"] {
        let response = app
            .send(
                TestRequest::get(path)
                    .query("user_ids=user-004&user_ids=ghost&user_ids=user-001&user_ids=user-004&user_ids=user-000"),
            )
            .await;
        response.assert_ok();
        assert_eq!(response.user_ids(), ["user-004", "user-001", "user-000"], "{path}");
    }
}

#[tokio::test]
async fn a_batch_get_of_only_unknown_ids_is_an_empty_list() {
    let app = spawn_app().await;
    let response = app
        .send(TestRequest::get("/server/user/infos").query("user_ids=nobody"))
        .await;
    response.assert_ok();
    assert_eq!(response.data(), &json!([]));
}

#[tokio::test]
async fn a_batch_get_spans_several_dynamodb_calls_in_order() {
    // 150 ids: two BatchGetItem calls (100 + 50) sent together.
    let app = spawn_app().await;
    register_batch(&app, &users(ids(0..150))).await.assert_ok();
    let mut wanted = ids(0..150);
    wanted.reverse();
    let query: Vec<String> = wanted.iter().map(|id| format!("user_ids={id}")).collect();
    let response = app
        .send(TestRequest::get("/server/user/infos").query(&query.join("&")))
        .await;
    response.assert_ok();
    assert_eq!(response.user_ids(), wanted);
}

#[tokio::test]
async fn batch_gets_take_1_to_200_ids() {
    let app = spawn_app().await;
    let query = |n: usize| {
        ids(0..n)
            .iter()
            .map(|id| format!("user_ids={id}"))
            .collect::<Vec<_>>()
            .join("&")
    };
    app.send(TestRequest::get("/server/user/infos").query(&query(200)))
        .await
        .assert_ok();
    let too_many = app
        .send(TestRequest::get("/server/user/infos").query(&query(201)))
        .await;
    too_many.assert_error(400, 400);
    assert_eq!(too_many.message(), "user_ids: at most 200 per request, got 201");
    app.send(TestRequest::get("/server/user/profiles"))
        .await
        .assert_error(400, 400);
    app.send(TestRequest::new("GET", "/server/user/profiles").json(&json!([])))
        .await
        .assert_error(400, 400);
}

#[tokio::test]
async fn a_batch_answer_too_large_for_lambda_is_a_400_not_a_lost_reply() {
    let app = spawn_app().await;
    // 90 users of about 66 KB each: about 6 MB of profiles.
    let extends: serde_json::Map<String, Value> = (0..64)
        .map(|i| (format!("{i:0>64}"), json!("v".repeat(1024))))
        .collect();
    let users: Vec<Value> = ids(0..90)
        .into_iter()
        .map(|id| json!({"user_id": id, "extends": extends}))
        .collect();
    for chunk in users.chunks(10) {
        register_batch(&app, &Value::Array(chunk.to_vec())).await.assert_ok();
    }
    let query: Vec<String> = ids(0..90).iter().map(|id| format!("user_ids={id}")).collect();
    let response = app
        .send(TestRequest::get("/server/user/profiles").query(&query.join("&")))
        .await;
    response.assert_error(400, 400);
    assert!(response.message().contains("6 MB"), "{}", response.message());
    let fewer = app
        .send(TestRequest::get("/server/user/profiles").query(&query[..20].join("&")))
        .await;
    fewer.assert_ok();
}
