//! A user's `extends` holds at most 64 entries after any update, enforced
//! by the update's own DynamoDB condition, so that neither one update nor
//! many concurrent ones can grow a user past it. Users stored with more
//! (imported, or from before the bound) still read and change their keys.

use crate::helpers::{client, spawn_app, TestApp, TestRequest};
use aws_sdk_dynamodb::types::AttributeValue;
use futures_util::future::join_all;
use serde_json::{json, Map, Value};
use std::collections::HashMap;

fn extends(keys: impl IntoIterator<Item = String>) -> Map<String, Value> {
    keys.into_iter().map(|key| (key, json!("v"))).collect()
}

fn keys(prefix: &str, range: std::ops::Range<usize>) -> Vec<String> {
    range.map(|i| format!("{prefix}{i}")).collect()
}

async fn update(app: &TestApp, user_id: &str, extends: Map<String, Value>) -> crate::helpers::TestResponse {
    app.send(TestRequest::put(
        &format!("/server/user/{user_id}"),
        &json!({ "extends": extends }),
    ))
    .await
}

async fn entries(app: &TestApp, user_id: &str) -> usize {
    let info = app.info(user_id).await;
    info.assert_ok();
    info.data()["extends"].as_object().unwrap().len()
}

/// A user with `count` entries, registered through the API.
async fn user_with_entries(app: &TestApp, user_id: &str, count: usize) {
    app.register(json!({"user_id": user_id, "extends": extends(keys("k", 0..count))}))
        .await
        .assert_ok();
}

#[tokio::test]
async fn an_update_may_fill_extends_to_64_entries_and_no_further() {
    let app = spawn_app().await;
    user_with_entries(&app, "u", 60).await;
    update(&app, "u", extends(keys("new", 0..4))).await.assert_ok();
    assert_eq!(entries(&app, "u").await, 64);

    let refused = update(&app, "u", extends(keys("more", 0..1))).await;
    refused.assert_error(400, 400);
    assert_eq!(
        refused.message(),
        "extends: a user holds at most 64 entries; it has 64 and this update adds 1 new"
    );
    assert_eq!(entries(&app, "u").await, 64, "a refused update changes nothing");
}

#[tokio::test]
async fn a_refused_update_changes_nothing_else_either() {
    let app = spawn_app().await;
    user_with_entries(&app, "u", 64).await;
    let refused = app
        .send(TestRequest::put(
            "/server/user/u",
            &json!({"nick": "changed", "extends": {"new": "v"}}),
        ))
        .await;
    refused.assert_error(400, 400);
    assert_eq!(app.info("u").await.data()["nick"], "");
}

#[tokio::test]
async fn a_full_user_may_still_change_the_keys_it_has() {
    let app = spawn_app().await;
    user_with_entries(&app, "u", 64).await;
    let changed: Map<String, Value> = keys("k", 0..64).into_iter().map(|k| (k, json!("w"))).collect();
    update(&app, "u", changed).await.assert_ok();
    let info = app.info("u").await;
    assert_eq!(info.data()["extends"]["k63"], "w");
    // Other fields are not bounded by extends.
    app.send(TestRequest::put("/server/user/u", &json!({"nick": "n"})))
        .await
        .assert_ok();
}

#[tokio::test]
async fn an_update_of_known_and_new_keys_is_counted_exactly() {
    // 63 entries, one known key and one new: 64 after the merge, allowed,
    // although the update names two keys.
    let app = spawn_app().await;
    user_with_entries(&app, "u", 63).await;
    let mut mixed = extends(["k0".to_owned(), "new".to_owned()]);
    mixed.insert("k0".into(), json!("changed"));
    update(&app, "u", mixed).await.assert_ok();
    let info = app.info("u").await;
    assert_eq!(info.data()["extends"].as_object().unwrap().len(), 64);
    assert_eq!(info.data()["extends"]["k0"], "changed");

    let over = update(&app, "u", extends(["k1".to_owned(), "newer".to_owned()])).await;
    over.assert_error(400, 400);
    assert_eq!(
        over.message(),
        "extends: a user holds at most 64 entries; it has 64 and this update adds 1 new"
    );
}

#[tokio::test]
async fn concurrent_updates_cannot_grow_a_user_past_the_bound() {
    let app = spawn_app().await;
    user_with_entries(&app, "u", 60).await;
    // Twelve updates at once, each adding a key of its own: four fit.
    let updates = (0..12).map(|i| update(&app, "u", extends([format!("racer{i}")])));
    let statuses: Vec<u16> = join_all(updates).await.iter().map(|r| r.status).collect();
    assert_eq!(statuses.iter().filter(|s| **s == 200).count(), 4, "{statuses:?}");
    assert_eq!(statuses.iter().filter(|s| **s == 400).count(), 8, "{statuses:?}");
    assert_eq!(entries(&app, "u").await, 64);
}

#[tokio::test]
async fn concurrent_updates_counted_exactly_still_cannot_pass_the_bound() {
    // At 63 entries, each update names a known key and a new one of its own:
    // each needs the exact count (and the pinned condition), and only one
    // can fit.
    let app = spawn_app().await;
    user_with_entries(&app, "u", 63).await;
    let updates = (0..6).map(|i| update(&app, "u", extends(["k0".to_owned(), format!("racer{i}")])));
    let statuses: Vec<u16> = join_all(updates).await.iter().map(|r| r.status).collect();
    assert_eq!(statuses.iter().filter(|s| **s == 200).count(), 1, "{statuses:?}");
    assert_eq!(statuses.iter().filter(|s| **s == 400).count(), 5, "{statuses:?}");
    assert_eq!(entries(&app, "u").await, 64);
}

/// A user item with `count` extends entries, written straight into the
/// table as the import or an older version of the service could have.
async fn stored_with_entries(app: &TestApp, user_id: &str, count: usize) {
    let extends: HashMap<String, AttributeValue> = keys("k", 0..count)
        .into_iter()
        .map(|k| (k, AttributeValue::S("v".into())))
        .collect();
    let s = |v: &str| AttributeValue::S(v.to_owned());
    let n = |v: i64| AttributeValue::N(v.to_string());
    client()
        .await
        .put_item()
        .table_name(&app.table)
        .item("pk", s(&format!("USER#{user_id}")))
        .item("user_id", s(user_id))
        .item("nick", s(""))
        .item("avatar", s(""))
        .item("extends", AttributeValue::M(extends))
        .item("im_userid", n(7))
        .item("im_username", s(&format!("ql{user_id}")))
        .item("im_password", s("p".repeat(24).as_str()))
        .item("created_at", n(0))
        .item("updated_at", n(0))
        .send()
        .await
        .unwrap();
}

#[tokio::test]
async fn a_user_stored_with_more_entries_reads_and_changes_its_keys_but_gains_none() {
    let app = spawn_app().await;
    stored_with_entries(&app, "legacy", 100).await;
    assert_eq!(entries(&app, "legacy").await, 100);
    update(&app, "legacy", extends(["k99".to_owned()])).await.assert_ok();
    let refused = update(&app, "legacy", extends(["k99".to_owned(), "new".to_owned()])).await;
    refused.assert_error(400, 400);
    assert_eq!(
        refused.message(),
        "extends: a user holds at most 64 entries; it has 100 and this update adds 1 new"
    );
    assert_eq!(entries(&app, "legacy").await, 100);
}

#[tokio::test]
async fn an_update_of_an_unknown_user_with_extends_is_still_404() {
    let app = spawn_app().await;
    update(&app, "nobody", extends(["k".to_owned()]))
        .await
        .assert_error(404, 404);
}

#[tokio::test]
async fn an_update_that_would_pass_dynamodbs_item_limit_is_400() {
    // Only users stored before the bound can still get there: 100 entries,
    // each given 1,024 four-byte characters by updates of known keys.
    let app = spawn_app().await;
    stored_with_entries(&app, "legacy", 100).await;
    let widest: String = "😀".repeat(1024);
    let fill = |range: std::ops::Range<usize>| -> Map<String, Value> {
        keys("k", range).into_iter().map(|k| (k, json!(widest))).collect()
    };
    update(&app, "legacy", fill(0..64)).await.assert_ok();
    let too_large = update(&app, "legacy", fill(64..100)).await;
    too_large.assert_error(400, 400);
    assert_eq!(
        too_large.message(),
        "extends: the user record would exceed DynamoDB's item size limit"
    );
}
