//! Hostile or broken input: a 400 in the envelope that names the field, and
//! nothing written.

use crate::helpers::{spawn_app, TestRequest};
use serde_json::{json, Value};

/// Sends `body` to register and batch register; both must answer 400 with a
/// message starting with `expected` and leave the table empty.
async fn rejected_everywhere(body: Value, expected: &str) {
    let app = spawn_app().await;
    let single = app.register(body.clone()).await;
    single.assert_error(400, 400);
    assert!(
        single.message().starts_with(expected),
        "{} vs {expected}",
        single.message()
    );

    let batch = app
        .send(TestRequest::post(
            "/server/user/register/batch",
            &json!([{"user_id": "fine"}, body]),
        ))
        .await;
    batch.assert_error(400, 400);
    let expected_in_batch = format!("users[1].{expected}");
    assert!(
        batch.message().starts_with(&expected_in_batch),
        "{} vs {expected_in_batch}",
        batch.message()
    );

    assert!(app.stored_user_ids().await.is_empty(), "nothing written");
}

#[tokio::test]
async fn wrong_types_are_400() {
    rejected_everywhere(json!({"user_id": 42}), "user_id: must be a string").await;
    rejected_everywhere(json!({"user_id": "u", "nick": ["x"]}), "nick: must be a string").await;
    rejected_everywhere(json!({"user_id": "u", "avatar": {}}), "avatar: must be a string").await;
    rejected_everywhere(json!({"user_id": "u", "extends": "k=v"}), "extends: must be an object").await;
    rejected_everywhere(
        json!({"user_id": "u", "extends": {"k": null}}),
        "extends.k: must be a string",
    )
    .await;
}

#[tokio::test]
async fn an_empty_user_id_is_400() {
    rejected_everywhere(json!({"user_id": ""}), "user_id: must not be empty").await;
}

#[tokio::test]
async fn limits_exceeded_are_400() {
    rejected_everywhere(
        json!({"user_id": "u".repeat(65)}),
        "user_id: at most 64 characters, got 65",
    )
    .await;
    rejected_everywhere(
        json!({"user_id": "u", "nick": "n".repeat(65)}),
        "nick: at most 64 characters",
    )
    .await;
    rejected_everywhere(
        json!({"user_id": "u", "avatar": "a".repeat(1025)}),
        "avatar: at most 1024 characters",
    )
    .await;
    let many: serde_json::Map<String, Value> = (0..65).map(|i| (format!("k{i}"), json!("v"))).collect();
    rejected_everywhere(
        json!({"user_id": "u", "extends": many}),
        "extends: at most 64 entries, got 65",
    )
    .await;
    rejected_everywhere(json!({"user_id": "u", "extends": {"k".repeat(65): "v"}}), "extends key").await;
    rejected_everywhere(json!({"user_id": "u", "extends": {"": "v"}}), "extends key").await;
    rejected_everywhere(
        json!({"user_id": "u", "extends": {"k": "v".repeat(1025)}}),
        "extends.k: at most 1024",
    )
    .await;
}

#[tokio::test]
async fn limits_are_inclusive() {
    let app = spawn_app().await;
    let extends: serde_json::Map<String, Value> = (0..64)
        .map(|i| (format!("{i:0>64}"), json!("v".repeat(1024))))
        .collect();
    let user =
        json!({"user_id": "u".repeat(64), "nick": "n".repeat(64), "avatar": "a".repeat(1024), "extends": extends});
    app.register(user.clone()).await.assert_ok();
    assert_eq!(app.info(&"u".repeat(64)).await.data()["extends"], user["extends"]);
}

#[tokio::test]
async fn control_characters_in_a_user_id_are_400() {
    rejected_everywhere(
        json!({"user_id": "a\u{0}b"}),
        "user_id: must not contain control characters",
    )
    .await;
    rejected_everywhere(
        json!({"user_id": "line\nbreak"}),
        "user_id: must not contain control characters",
    )
    .await;
    rejected_everywhere(
        json!({"user_id": "bell\u{7}"}),
        "user_id: must not contain control characters",
    )
    .await;
}

#[tokio::test]
async fn other_fields_keep_any_text_as_the_original_did() {
    let app = spawn_app().await;
    let user = json!({"user_id": "u", "nick": "tab\there", "avatar": "a\u{1}", "extends": {"multi\nline": "x\u{0}y"}});
    app.register(user.clone()).await.assert_ok();
    let info = app.info("u").await;
    assert_eq!(
        (&info.data()["nick"], &info.data()["avatar"]),
        (&user["nick"], &user["avatar"])
    );
    assert_eq!(info.data()["extends"], user["extends"]);
}

#[tokio::test]
async fn malformed_json_is_400_for_every_body_endpoint() {
    let app = spawn_app().await;
    app.register(json!({"user_id": "u"})).await.assert_ok();
    for (method, path) in [
        ("POST", "/server/user/register"),
        ("POST", "/server/user/register/batch"),
        ("PUT", "/server/user/u"),
        ("GET", "/server/user/profiles"),
    ] {
        for body in [
            &b"{"[..],
            b"not json",
            b"\xff\xfe",
            b"[1,]",
            b"{\"user_id\": \"u\"} trailing",
        ] {
            let response = app
                .send(TestRequest::new(method, path).raw_body("application/json", body))
                .await;
            response.assert_error(400, 400);
            assert!(
                response.message().starts_with("body: "),
                "{method} {path}: {}",
                response.message()
            );
        }
    }
    assert_eq!(app.stored_user_ids().await, ["u"]);
}

#[tokio::test]
async fn a_body_of_the_wrong_shape_is_400() {
    let app = spawn_app().await;
    app.register(json!({"user_id": "u"})).await.assert_ok();
    let cases = [
        (
            "POST",
            "/server/user/register",
            json!([{"user_id": "x"}]),
            "body: must be a JSON object",
        ),
        (
            "POST",
            "/server/user/register/batch",
            json!({"user_id": "x"}),
            "body: must be a JSON array",
        ),
        ("PUT", "/server/user/u", json!("nick"), "body: must be a JSON object"),
        (
            "PUT",
            "/server/user/u",
            json!({"user_id": "v"}),
            "user_id: cannot be changed",
        ),
        (
            "GET",
            "/server/user/profiles",
            json!({"user_ids": ["u"]}),
            "body: must be a JSON array",
        ),
        (
            "GET",
            "/server/user/profiles",
            json!(["u", 7]),
            "user_ids[1]: must be a string",
        ),
    ];
    for (method, path, body, expected) in cases {
        let response = app.send(TestRequest::new(method, path).json(&body)).await;
        response.assert_error(400, 400);
        assert!(
            response.message().starts_with(expected),
            "{method} {path}: {}",
            response.message()
        );
    }
    assert_eq!(app.stored_user_ids().await, ["u"]);
}

#[tokio::test]
async fn a_bad_update_changes_nothing() {
    let app = spawn_app().await;
    app.register(json!({"user_id": "u", "nick": "n", "extends": {"a": "1"}}))
        .await
        .assert_ok();
    let before = app.profile("u").await;
    let response = app
        .send(TestRequest::put(
            "/server/user/u",
            &json!({"nick": "ok", "extends": {"b": "2", "c": 3}}),
        ))
        .await;
    response.assert_error(400, 400);
    assert_eq!(app.profile("u").await.data(), before.data());
}

#[tokio::test]
async fn bad_ids_in_paths_and_queries_are_400() {
    let app = spawn_app().await;
    for request in [
        TestRequest::get("/server/user/info/%00"),
        TestRequest::get("/server/user/profile/%ff%fe"),
        TestRequest::get(&format!("/server/user/info/{}", "x".repeat(65))),
        TestRequest::put("/server/user/a%0Ab", &json!({"nick": "n"})),
        TestRequest::get("/server/user/infos").query("user_ids=a&user_ids=%07"),
        TestRequest::get("/server/user/infos").query("user_ids="),
    ] {
        app.send(request).await.assert_error(400, 400);
    }
}

#[tokio::test]
async fn a_binary_body_is_400_not_a_crash() {
    let app = spawn_app().await;
    let response = app
        .send(
            TestRequest::new("POST", "/server/user/register").raw_body("application/octet-stream", &[0, 159, 146, 150]),
        )
        .await;
    response.assert_error(400, 400);
    assert!(app.stored_user_ids().await.is_empty());
}
