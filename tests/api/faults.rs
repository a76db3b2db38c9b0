//! The contract's promises under DynamoDB faults: throttling, 500s, dropped
//! connections, delays, partial batches (at least 30% of calls faulted) and
//! stalls, injected by `crate::helpers::fault_proxy` between the SDK and DynamoDB
//! Local. No 500, no non-envelope reply, no write reported and then missing,
//! no user silently dropped, no shortened list.

use crate::helpers::fault_proxy::{Fault, FaultPlan, FaultProxy};
use crate::helpers::{dynamodb_endpoint, spawn_app, spawn_app_behind, TestApp, TestRequest, TestResponse};
use futures_util::future::join_all;
use serde_json::{json, Value};
use std::collections::HashSet;
use std::time::Duration;

fn plan(seed: u64) -> FaultPlan {
    FaultPlan::mixed(seed, 0.35, 0.6)
}

#[track_caller]
fn assert_answered_within_contract(response: &TestResponse) {
    // send() has already checked the envelope and X-Reqid.
    assert!(
        matches!((response.status, response.code()), (200, 0) | (503, 602)),
        "{:#}",
        response.body
    );
}

fn assert_at_least_30_percent_faulted(proxy: &FaultProxy) {
    let calls = proxy.stats.calls.load(std::sync::atomic::Ordering::Relaxed);
    let faulted = proxy.stats.faulted();
    eprintln!(
        "{calls} calls, {faulted} faulted: {:?}; partial answers: {:?}",
        proxy.stats.by_fault.lock().unwrap(),
        proxy.stats.partial_by_operation.lock().unwrap()
    );
    assert!(calls > 20, "only {calls} calls went through the proxy");
    assert!(faulted * 10 >= calls * 3, "{faulted} of {calls} calls faulted");
}

/// Registers `rounds` × `per_round` new users, a round at a time, each
/// round's registers concurrently; returns the ids answered 200. Never a
/// 409, even when a PutItem went through, its answer was dropped, and the
/// SDK's retry met the user this very request made.
async fn register_in_rounds(app: &TestApp, prefix: &str, rounds: usize, per_round: usize) -> Vec<String> {
    let mut registered = Vec::new();
    for round in 0..rounds {
        let ids: Vec<String> = (0..per_round).map(|i| format!("{prefix}-{round}-{i}")).collect();
        let responses = join_all(ids.iter().map(|id| app.register(json!({"user_id": id})))).await;
        for (id, response) in ids.iter().zip(responses) {
            assert_answered_within_contract(&response);
            if response.status == 200 {
                registered.push(id.clone());
            }
        }
    }
    registered
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_register_that_returned_200_is_readable_with_one_im_identity() {
    let proxy = FaultProxy::start(&dynamodb_endpoint(), plan(7)).await;
    let app = spawn_app_behind(&proxy.endpoint).await;

    let registered = register_in_rounds(&app, "user", 8, 10).await;
    assert_at_least_30_percent_faulted(&proxy);
    assert!(proxy.stats.count(Fault::DropAfterForwarding) > 0 && proxy.stats.count(Fault::Throttling) > 0);
    assert!(
        registered.len() > 40,
        "most registers get through: {}",
        registered.len()
    );

    let mut im_ids = HashSet::new();
    for id in &registered {
        let user = app
            .store
            .get_user(&user_id(id))
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("{id} was lost"));
        // `user-1-2` escaped into the IM's alphabet: `ql__user_2d_1_2d_2`.
        assert_eq!(user.im.im_username, format!("ql__{}", id.replace('-', "_2d_")));
        assert!(user.im.im_password.len() >= 16);
        assert!(im_ids.insert(user.im.im_userid), "{id} shares its im_userid");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_register_whose_reply_was_lost_is_the_callers_success_never_a_409() {
    let proxy = FaultProxy::start(&dynamodb_endpoint(), FaultPlan::lost_replies(5, 0.3)).await;
    let app = spawn_app_behind(&proxy.endpoint).await;

    // 503 only when every attempt of a call lost its reply.
    let mut registered = register_in_rounds(&app, "single", 15, 20).await;
    for round in 0..4 {
        let ids: Vec<String> = (0..50).map(|i| format!("batch-{round}-{i}")).collect();
        let users: Value = ids.iter().map(|id| json!({"user_id": id})).collect();
        let response = app.send(TestRequest::post("/server/user/register/batch", &users)).await;
        assert_answered_within_contract(&response);
        if response.status == 200 {
            let listed = response.data().as_object().cloned().unwrap_or_default();
            assert!(
                listed.values().all(|reason| reason != "user already exists"),
                "a retried write was reported as somebody else's: {listed:?}"
            );
            registered.extend(ids.into_iter().filter(|id| !listed.contains_key(id)));
        }
    }
    let lost = proxy.stats.count(Fault::DropAfterForwarding);
    eprintln!("{lost} replies lost, {} users registered", registered.len());
    assert!(lost >= 50, "only {lost} replies were lost");
    assert!(
        registered.len() >= 350,
        "most registers get through: {}",
        registered.len()
    );

    // Each registered user is stored once, with the account its own
    // request made: one IM identity per user, none shared.
    let stored = app.stored_user_ids().await;
    assert!(registered.iter().all(|id| stored.binary_search(id).is_ok()));
    let mut im_ids = HashSet::new();
    for id in &stored {
        let user = app.store.get_user(&user_id(id)).await.unwrap().unwrap();
        assert!(im_ids.insert(user.im.im_userid), "{id} shares its im_userid");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_a_batch_register_every_user_is_readable_or_listed_and_partial_batches_complete() {
    let proxy = FaultProxy::start(&dynamodb_endpoint(), plan(11)).await;
    let app = spawn_app_behind(&proxy.endpoint).await;
    let partial_writes = || {
        proxy
            .stats
            .partial_by_operation
            .lock()
            .unwrap()
            .get("BatchWriteItem")
            .copied()
            .unwrap_or(0)
    };

    let mut whole_batches_through_partial_results = 0;
    for round in 0..8 {
        let ids: Vec<String> = (0..200).map(|i| format!("batch-{round}-{i:03}")).collect();
        let users: Value = ids.iter().map(|id| json!({"user_id": id})).collect();
        let partial_before = partial_writes();
        let response = app.send(TestRequest::post("/server/user/register/batch", &users)).await;
        assert_answered_within_contract(&response);
        let stored: HashSet<String> = app.stored_user_ids().await.into_iter().collect();
        match response.status {
            200 => {
                let listed = response.data().as_object().cloned().unwrap_or_default();
                for id in &ids {
                    assert!(
                        stored.contains(id) || listed.contains_key(id),
                        "{id} was silently dropped"
                    );
                }
                if listed.is_empty() && partial_writes() > partial_before {
                    whole_batches_through_partial_results += 1;
                }
            }
            // Only the checks before any write can fail the whole request.
            _ => assert!(ids.iter().all(|id| !stored.contains(id)), "a 503 batch wrote users"),
        }
    }
    assert_at_least_30_percent_faulted(&proxy);
    assert!(
        whole_batches_through_partial_results > 0,
        "no 200-user batch completed through UnprocessedItems retries"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batch_gets_return_the_whole_ordered_answer_or_503() {
    let direct = spawn_app().await;
    let ids: Vec<String> = (0..200).map(|i| format!("reader-{i:03}")).collect();
    let users: Value = ids.iter().map(|id| json!({"user_id": id})).collect();
    direct
        .send(TestRequest::post("/server/user/register/batch", &users))
        .await
        .assert_ok();

    let proxy = FaultProxy::start(&dynamodb_endpoint(), plan(23)).await;
    let app = direct.behind(&proxy.endpoint).await;

    let mut complete_answers = 0;
    for round in 0..12 {
        // A different order each round, with an unknown id in the middle.
        let mut wanted: Vec<String> = ids.iter().cycle().skip(round * 17).take(199).cloned().collect();
        wanted.insert(100, "nobody".into());
        let query: Vec<String> = wanted.iter().map(|id| format!("user_ids={id}")).collect();
        let path = if round % 2 == 0 {
            "/server/user/infos"
        } else {
            "/server/user/profiles"
        };
        let response = app.send(TestRequest::get(path).query(&query.join("&"))).await;
        assert_answered_within_contract(&response);
        if response.status == 200 {
            let got = response.user_ids();
            let expected: Vec<&str> = wanted.iter().map(String::as_str).filter(|id| *id != "nobody").collect();
            assert_eq!(got, expected, "a 200 answer is complete and in order");
            complete_answers += 1;
        }
    }
    assert_at_least_30_percent_faulted(&proxy);
    assert!(complete_answers > 0);
    let partial_gets = proxy
        .stats
        .partial_by_operation
        .lock()
        .unwrap()
        .get("BatchGetItem")
        .copied();
    assert!(partial_gets.unwrap_or(0) > 0, "UnprocessedKeys were retried");
}

/// How soon the answer comes is a unit test in paused time
/// (`edge::tests::a_stalled_database_gives_503_before_the_lambda_deadline`);
/// here, that a real stalled DynamoDB behind the real SDK is a 503.
#[tokio::test]
async fn a_stalled_database_gives_503_before_the_lambda_deadline() {
    let proxy = FaultProxy::start(&dynamodb_endpoint(), FaultPlan { stall: true, ..plan(0) }).await;
    let app = spawn_app_behind(&proxy.endpoint).await;
    for request in [
        TestRequest::post("/server/user/register", &json!({"user_id": "u"})),
        TestRequest::post("/server/user/register/batch", &json!([{"user_id": "u"}])),
        TestRequest::get("/server/user/profiles").query("user_ids=u"),
    ] {
        // A Lambda invocation with 3 s left.
        let response = app.send_with_deadline(request, Duration::from_secs(3)).await;
        response.assert_error(503, 602);
    }
}

/// The 4 s cut itself is a unit test in paused time
/// (`store::client::tests::a_stalled_call_is_cut_by_the_operation_timeout`).
#[tokio::test]
async fn a_stalled_call_is_cut_by_the_sdk_operation_timeout() {
    let proxy = FaultProxy::start(&dynamodb_endpoint(), FaultPlan { stall: true, ..plan(0) }).await;
    let app = spawn_app_behind(&proxy.endpoint).await;
    // No Lambda deadline: the operation timeout answers first.
    let response = app.info("u").await;
    response.assert_error(503, 602);
}

fn user_id(id: &str) -> qnlive_user_api::domain::UserId {
    qnlive_user_api::domain::UserId::parse(id.into(), "user_id").unwrap()
}
