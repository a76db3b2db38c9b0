//! Batch reads: keys DynamoDB leaves unprocessed are asked for again, for
//! eight rounds at most, and a read stops as soon as what has arrived is
//! over what the answer may hold.

use crate::helpers::fault_proxy::{FaultPlan, FaultProxy};
use crate::helpers::{build_test_app, client, config, dynamodb_endpoint, spawn_app, TestApp, TestRequest};
use qnlive_user_api::domain::UserId;
use qnlive_user_api::im::{ImAccounts, ImSettings, ProviderSettings};
use qnlive_user_api::store::Store;
use qnlive_user_api::usecases::{ServiceError, UserService};
use serde_json::{json, Value};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

fn ids(count: usize) -> Vec<String> {
    (0..count).map(|i| format!("reader-{i:03}")).collect()
}

async fn registered(count: usize) -> TestApp {
    let app = spawn_app().await;
    let users: Value = ids(count)
        .iter()
        .map(|id| json!({"user_id": id, "nick": "n"}))
        .collect();
    app.send(TestRequest::post("/server/user/register/batch", &users))
        .await
        .assert_ok();
    app
}

fn client_behind(proxy: &FaultProxy, direct: aws_sdk_dynamodb::Client) -> aws_sdk_dynamodb::Client {
    aws_sdk_dynamodb::Client::from_conf(direct.config().to_builder().endpoint_url(&proxy.endpoint).build())
}

/// The use cases on `app`'s table, their DynamoDB calls through `proxy`.
async fn service_behind(app: &TestApp, proxy: &FaultProxy) -> UserService {
    let store = Store::new(client_behind(proxy, client().await), &app.table);
    let settings = ImSettings {
        username_prefix: "ql".into(),
        provider: ProviderSettings::Local,
    };
    UserService::new(store.clone(), ImAccounts::new(settings, store).unwrap())
}

fn user_ids(count: usize) -> Vec<UserId> {
    ids(count)
        .into_iter()
        .map(|id| UserId::parse(id, "user_id").unwrap())
        .collect()
}

fn soon() -> Instant {
    Instant::now() + Duration::from_secs(5)
}

#[tokio::test]
async fn a_batch_read_completes_through_unprocessed_keys() {
    let direct = registered(150).await;
    let proxy = FaultProxy::start(&dynamodb_endpoint(), FaultPlan::partial_batches(7, 0.5)).await;
    let app = direct.behind(&proxy.endpoint).await;
    let mut wanted = ids(150);
    wanted.reverse();
    let query: Vec<String> = wanted.iter().map(|id| format!("user_ids={id}")).collect();
    let response = app
        .send(TestRequest::get("/server/user/infos").query(&query.join("&")))
        .await;
    response.assert_ok();
    assert_eq!(response.user_ids(), wanted);
    let partial = proxy
        .stats
        .partial_by_operation
        .lock()
        .unwrap()
        .get("BatchGetItem")
        .copied();
    assert!(partial.unwrap_or(0) >= 2, "both calls were cut: {partial:?}");
}

#[tokio::test]
async fn a_batch_read_dynamodb_never_processes_is_503_after_eight_rounds() {
    let direct = registered(3).await;
    let proxy = FaultProxy::start(&dynamodb_endpoint(), FaultPlan::nothing_processed()).await;
    let lines = Arc::new(Mutex::new(Vec::new()));
    let sink = lines.clone();
    let vars = [("AUTH_DISABLED", "true"), ("METRICS_NAMESPACE", "Test/UserApi")];
    let app = build_test_app(config(&direct.table, &vars), client_behind(&proxy, client().await))
        .with_metrics_out(move |line| sink.lock().unwrap().push(line.to_owned()));
    let app = TestApp { app, ..direct };

    let query: Vec<String> = ids(3).iter().map(|id| format!("user_ids={id}")).collect();
    let response = app
        .send(
            TestRequest::get("/server/user/infos")
                .query(&query.join("&"))
                .unsigned(),
        )
        .await;
    response.assert_error(503, 602);
    assert_eq!(proxy.stats.calls.load(Ordering::Relaxed), 8);
    let line: Value = serde_json::from_str(&lines.lock().unwrap()[0]).unwrap();
    assert_eq!(
        (&line["DynamoDbCalls"], &line["DynamoDbRetries"]),
        (&json!(8), &json!(7)),
        "the first round and seven re-sends after a backoff"
    );
}

#[tokio::test]
async fn users_are_read_up_to_exactly_the_answer_limit() {
    let app = registered(3).await;
    let mut info_bytes = 0;
    for id in ids(3) {
        info_bytes += serde_json::to_string(app.info(&id).await.data()).unwrap().len();
    }
    let proxy = FaultProxy::start(&dynamodb_endpoint(), FaultPlan::mixed(0, 0.0, 0.0)).await;
    let service = service_behind(&app, &proxy).await;

    let users = service.users(&user_ids(3), soon(), info_bytes).await.unwrap();
    assert_eq!(users.len(), 3);
    let over = service.users(&user_ids(3), soon(), info_bytes - 1).await;
    assert!(matches!(over, Err(ServiceError::AnswerTooLarge)), "{over:?}");
}

#[tokio::test]
async fn a_read_past_the_answer_limit_asks_dynamodb_for_nothing_more() {
    // Every answer leaves keys unprocessed; the first one is already over
    // the limit, so they are never asked for.
    let app = registered(10).await;
    let proxy = FaultProxy::start(&dynamodb_endpoint(), FaultPlan::partial_batches(3, 1.0)).await;
    let service = service_behind(&app, &proxy).await;
    let over = service.users(&user_ids(10), soon(), 1).await;
    assert!(matches!(over, Err(ServiceError::AnswerTooLarge)), "{over:?}");
    assert_eq!(proxy.stats.calls.load(Ordering::Relaxed), 1);
}
