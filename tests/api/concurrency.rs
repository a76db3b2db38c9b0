//! Concurrent writers: one winner per id, no lost merge, unique IM ids, also
//! across several Lambda instances sharing the table.

use crate::helpers::{spawn_app, TestRequest};
use futures_util::future::join_all;
use qnlive_user_api::im::IM_ID_BLOCK_SIZE;
use serde_json::json;
use std::collections::HashSet;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ten_concurrent_registers_of_one_user_id_give_exactly_one_200() {
    let app = spawn_app().await;
    let attempts = (0..10).map(|i| app.register(json!({"user_id": "contested", "nick": format!("writer {i}")})));
    let responses = join_all(attempts).await;
    let winners: Vec<_> = responses.iter().filter(|r| r.status == 200).collect();
    assert_eq!(winners.len(), 1, "{responses:#?}");
    for loser in responses.iter().filter(|r| r.status != 200) {
        loser.assert_error(409, 10001);
    }
    assert_eq!(app.stored_user_ids().await, ["contested"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_updates_of_different_extends_keys_all_survive() {
    let app = spawn_app().await;
    app.register(json!({"user_id": "u", "extends": {"base": "0"}}))
        .await
        .assert_ok();
    let updates = (0..20).map(|i| {
        app.send(TestRequest::put(
            "/server/user/u",
            &json!({"extends": {format!("key-{i}"): format!("value-{i}")}}),
        ))
    });
    for response in join_all(updates).await {
        response.assert_ok();
    }
    let extends = app.info("u").await.data()["extends"].clone();
    let extends = extends.as_object().unwrap();
    assert_eq!(extends.len(), 21, "{extends:#?}");
    for i in 0..20 {
        assert_eq!(extends[&format!("key-{i}")], format!("value-{i}"));
    }
    assert_eq!(extends["base"], "0");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_hundred_users_registered_concurrently_on_three_instances_get_distinct_im_ids() {
    // Three "Lambda instances": separate apps, each leasing its own IM-id
    // blocks from the one counter in the shared table.
    let first = spawn_app().await;
    let second = first.another_instance().await;
    let third = first.another_instance().await;
    let apps = [&first, &second, &third];

    let singles = (0..150).map(|i| apps[i % 3].register(json!({"user_id": format!("single-{i}")})));
    let batch = second.send(TestRequest::post(
        "/server/user/register/batch",
        &json!((0..50)
            .map(|i| json!({"user_id": format!("batch-{i}")}))
            .collect::<Vec<_>>()),
    ));
    let (singles, batch) = futures_util::join!(join_all(singles), batch);
    for response in singles {
        response.assert_ok();
    }
    batch.assert_ok();

    let mut im_ids = HashSet::new();
    for chunk in first.stored_user_ids().await.chunks(100) {
        let query: Vec<String> = chunk
            .iter()
            .map(|id| format!("user_ids={}", crate::helpers::encode(id)))
            .collect();
        let response = third
            .send(TestRequest::get("/server/user/infos").query(&query.join("&")))
            .await;
        response.assert_ok();
        for user in response.data().as_array().unwrap() {
            assert!(
                im_ids.insert(user["im_userid"].as_i64().unwrap()),
                "duplicate im_userid: {user}"
            );
        }
    }
    assert_eq!(im_ids.len(), 200);
}

#[tokio::test]
async fn warming_up_leases_the_first_block_of_im_ids_before_any_request() {
    let app = spawn_app().await;
    app.app.warm_up(std::time::Duration::from_secs(10)).await;
    let next = app.store.lease_im_ids(1).await.unwrap();
    assert_eq!(
        next.start,
        IM_ID_BLOCK_SIZE + 1,
        "the warm-up's own lease (which opens the connection) took the first block"
    );
}
