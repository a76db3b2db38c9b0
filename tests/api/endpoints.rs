//! The success path of every endpoint, against DynamoDB Local.

use crate::helpers::{spawn_app, TestRequest};
use serde_json::json;

#[tokio::test]
async fn register_creates_the_user_and_its_im_account() {
    let app = spawn_app().await;
    let response = app
        .register(json!({"user_id": "user-1", "nick": "用户", "avatar": "http://x/a.png", "extends": {"age": "18"}}))
        .await;
    response.assert_ok();
    assert!(response.body.get("data").is_none(), "register returns no data");

    let profile = app.profile("user-1").await;
    profile.assert_ok();
    let data = profile.data();
    assert_eq!(data["user_id"], "user-1");
    assert_eq!(data["nick"], "用户");
    assert_eq!(data["avatar"], "http://x/a.png");
    assert_eq!(data["extends"], json!({"age": "18"}));
    assert!(data["im_userid"].as_i64().unwrap() > 0, "im_userid is a JSON integer");
    // `-` is not allowed in IM usernames: the id is escaped (`_2d_`).
    assert_eq!(data["im_username"], "ql__user_2d_1");
    assert!(data["im_password"].as_str().unwrap().chars().count() >= 16);
}

#[tokio::test]
async fn info_shows_everything_but_the_im_login() {
    let app = spawn_app().await;
    app.register(json!({"user_id": "u"})).await.assert_ok();
    let info = app.info("u").await;
    info.assert_ok();
    let data = info.data().as_object().unwrap();
    let mut keys: Vec<&str> = data.keys().map(String::as_str).collect();
    keys.sort();
    assert_eq!(keys, ["avatar", "extends", "im_userid", "nick", "user_id"]);
    // Missing strings are "" and missing extends is {}, never null.
    assert_eq!(data["nick"], "");
    assert_eq!(data["avatar"], "");
    assert_eq!(data["extends"], json!({}));
}

#[tokio::test]
async fn update_changes_only_what_is_given_and_merges_extends() {
    let app = spawn_app().await;
    app.register(json!({"user_id": "u", "nick": "old", "avatar": "a0", "extends": {"k1": "v1", "k2": "v2"}}))
        .await
        .assert_ok();
    let before = app.profile("u").await;

    app.send(TestRequest::put(
        "/server/user/u",
        &json!({"nick": "new", "avatar": "", "extends": {"k2": "w2", "k3": "v3"}}),
    ))
    .await
    .assert_ok();

    let after = app.profile("u").await;
    let data = after.data();
    assert_eq!(data["nick"], "new");
    assert_eq!(data["avatar"], "a0", "an empty avatar leaves it unchanged");
    assert_eq!(data["extends"], json!({"k1": "v1", "k2": "w2", "k3": "v3"}));
    for im_field in ["im_userid", "im_username", "im_password"] {
        assert_eq!(data[im_field], before.data()[im_field], "{im_field} never changes");
    }
}

#[tokio::test]
async fn update_with_an_empty_object_keeps_the_user_as_it_was() {
    let app = spawn_app().await;
    app.register(json!({"user_id": "u", "nick": "n"})).await.assert_ok();
    let before = app.profile("u").await;
    app.send(TestRequest::put("/server/user/u", &json!({})))
        .await
        .assert_ok();
    assert_eq!(app.profile("u").await.data(), before.data());
}

#[tokio::test]
async fn batch_register_registers_every_user() {
    let app = spawn_app().await;
    let users = json!([{"user_id": "a", "nick": "A"}, {"user_id": "b", "extends": {"x": "1"}}]);
    let response = app.send(TestRequest::post("/server/user/register/batch", &users)).await;
    response.assert_ok();
    assert!(
        response.body.get("data").is_none(),
        "no data when every user was registered"
    );
    assert_eq!(app.stored_user_ids().await, ["a", "b"]);
    assert_eq!(app.info("b").await.data()["extends"], json!({"x": "1"}));
}

#[tokio::test]
async fn batch_info_and_profiles_return_the_users_in_request_order() {
    let app = spawn_app().await;
    for id in ["a", "b", "c"] {
        app.register(json!({"user_id": id, "nick": id.to_uppercase()}))
            .await
            .assert_ok();
    }
    let infos = app
        .send(TestRequest::get("/server/user/infos").query("user_ids=c&user_ids=a"))
        .await;
    infos.assert_ok();
    let ids = infos.user_ids();
    assert_eq!(ids, ["c", "a"]);
    assert!(
        infos.data()[0].get("im_password").is_none(),
        "infos never show the IM password"
    );

    let profiles = app
        .send(TestRequest::get("/server/user/profiles").query("user_ids=b"))
        .await;
    profiles.assert_ok();
    assert_eq!(profiles.data()[0]["user_id"], "b");
    assert_eq!(profiles.data()[0]["im_username"], "qlb");
    assert!(profiles.data()[0]["im_password"].is_string());
}

#[tokio::test]
async fn profiles_also_take_a_json_array_body_as_the_document_shows() {
    let app = spawn_app().await;
    app.register(json!({"user_id": "user_1"})).await.assert_ok();
    app.register(json!({"user_id": "user_2"})).await.assert_ok();
    let response = app
        .send(TestRequest::new("GET", "/server/user/profiles").json(&json!(["user_2", "user_1"])))
        .await;
    response.assert_ok();
    let ids = response.user_ids();
    assert_eq!(ids, ["user_2", "user_1"]);
}

#[tokio::test]
async fn a_user_id_with_reserved_characters_works_through_its_percent_encoded_path() {
    let app = spawn_app().await;
    let id = "a/b c?d#用";
    app.register(json!({"user_id": id})).await.assert_ok();
    assert_eq!(app.info(id).await.data()["user_id"], id);
    app.send(TestRequest::put(
        &format!("/server/user/{}", crate::helpers::encode(id)),
        &json!({"nick": "n"}),
    ))
    .await
    .assert_ok();
    assert_eq!(app.profile(id).await.data()["nick"], "n");
}

#[tokio::test]
async fn im_usernames_are_the_prefix_and_the_id_when_the_im_accepts_it_else_an_escape() {
    let app = spawn_app().await;
    let cases = [
        ("alice_01", "qlalice_01"),
        ("用户", "ql用户"),
        ("a-b", "ql__a_2d_b"),
        ("me@example.com", "ql__me_40_example_2e_com"),
        ("a b", "ql__a_20_b"),
        ("__x", "ql______x"),
    ];
    for (user_id, _) in cases {
        app.register(json!({"user_id": user_id})).await.assert_ok();
    }
    for (user_id, username) in cases {
        assert_eq!(app.profile(user_id).await.data()["im_username"], username, "{user_id}");
    }
}

#[tokio::test]
async fn the_im_username_prefix_is_configurable() {
    let app = crate::helpers::spawn_app_with(&[("AUTH_DISABLED", "true"), ("IM_USERNAME_PREFIX", "live_")]).await;
    app.register(json!({"user_id": "u"})).await.assert_ok();
    assert_eq!(app.profile("u").await.data()["im_username"], "live_u");
}

#[tokio::test]
async fn replies_list_their_fields_in_the_documents_order() {
    let app = spawn_app().await;
    app.register(json!({"user_id": "u", "nick": "n"})).await.assert_ok();
    let reply = app.profile("u").await;
    let position = |field: &str| reply.raw.find(&format!("\"{field}\":")).unwrap();
    let envelope = ["request_id", "code", "message", "data"].map(position);
    assert!(envelope.is_sorted(), "{}", reply.raw);
    let user = [
        "user_id",
        "nick",
        "avatar",
        "im_userid",
        "im_username",
        "im_password",
        "extends",
    ]
    .map(position);
    assert!(user.is_sorted(), "{}", reply.raw);
}

#[tokio::test]
async fn a_sane_x_reqid_from_the_caller_is_the_request_id_of_the_reply() {
    let app = spawn_app().await;
    let response = app
        .send(TestRequest::get("/server/user/info/nobody").header("X-Reqid", "caller-7f3a/retry:2"))
        .await;
    response.assert_error(404, 404);
    assert_eq!(response.body["request_id"], "caller-7f3a/retry:2");
    assert_eq!(response.headers["x-reqid"], "caller-7f3a/retry:2");
}

#[tokio::test]
async fn an_x_reqid_that_is_not_sane_is_replaced_by_the_gateways_id() {
    let app = spawn_app().await;
    for insane in ["with space", "用户", &"x".repeat(65), ""] {
        let event = TestRequest::get("/server/user/info/nobody")
            .header("X-Reqid", insane)
            .event();
        let response = app.send_event(&event).await;
        assert_eq!(
            response.body["request_id"], event["requestContext"]["requestId"],
            "{insane:?}"
        );
    }
}
