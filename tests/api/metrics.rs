//! One CloudWatch Embedded Metric Format line per request, which
//! CloudWatch accepts: checked here against the specification's rules
//! (<https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html>)
//! and for what each request really did.

use crate::helpers::{build_test_app, client, config, spawn_app, TestApp, TestRequest, AK, SK};
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};

type Lines = Arc<Mutex<Vec<String>>>;

/// An app on a fresh table, configured by `vars` plus the test keys and a
/// metrics namespace, whose metrics lines are collected.
async fn app_with_metrics(vars: &[(&str, &str)]) -> (TestApp, Lines) {
    let base = spawn_app().await;
    let lines = Lines::default();
    let sink = lines.clone();
    let keys = format!("{AK}:{SK}");
    let mut all = vec![("QINIU_KEYS", keys.as_str()), ("METRICS_NAMESPACE", "Test/UserApi")];
    all.extend_from_slice(vars);
    let app = build_test_app(config(&base.table, &all), client().await)
        .with_metrics_out(move |line| sink.lock().unwrap().push(line.to_owned()));
    (TestApp { app, ..base }, lines)
}

/// The specification's rules for one EMF document, asserted.
#[track_caller]
fn assert_valid_emf(line: &str) -> Value {
    assert!(!line.contains('\n'), "one line");
    let document: Value = serde_json::from_str(line).expect("a JSON object");
    let aws = &document["_aws"];
    assert!(aws["Timestamp"].is_u64(), "Timestamp: milliseconds since the epoch");
    let directives = aws["CloudWatchMetrics"]
        .as_array()
        .expect("CloudWatchMetrics is an array");
    assert!(!directives.is_empty());
    for directive in directives {
        let namespace = directive["Namespace"].as_str().expect("a Namespace");
        assert!(!namespace.is_empty() && namespace.len() <= 255);
        for set in directive["Dimensions"]
            .as_array()
            .expect("Dimensions: an array of sets")
        {
            let set = set.as_array().expect("each set is an array of names");
            assert!(set.len() <= 30, "at most 30 dimensions per set");
            for name in set {
                let value = &document[name.as_str().unwrap()];
                assert!(value.is_string(), "dimension {name} has a string value at the root");
            }
        }
        let declared = directive["Metrics"].as_array().expect("Metrics is an array");
        assert!(
            !declared.is_empty() && declared.len() <= 100,
            "1..=100 metrics per directive"
        );
        for metric in declared {
            let name = metric["Name"].as_str().expect("a metric Name");
            assert!(!name.is_empty() && name.len() <= 1024);
            let unit = metric["Unit"].as_str().unwrap_or("None");
            assert!(["Count", "Milliseconds", "None"].contains(&unit), "{unit}");
            assert!(
                document[name].is_number(),
                "metric {name} has a numeric value at the root"
            );
        }
    }
    document
}

#[tokio::test]
async fn every_request_writes_one_valid_emf_line_with_what_it_did() {
    let (app, lines) = app_with_metrics(&[]).await;
    app.register(json!({"user_id": "m1"})).await.assert_ok();
    app.register(json!({"user_id": "m2"})).await.assert_ok();
    app.send(TestRequest::get("/server/user/infos").query("user_ids=m1&user_ids=m2&user_ids=m1"))
        .await
        .assert_ok();
    app.send(TestRequest::get("/server/user/info/m1").signed_with(AK, "wrong"))
        .await
        .assert_error(401, 401);
    app.send(TestRequest::get("/server/nowhere"))
        .await
        .assert_error(404, 404);

    let lines = lines.lock().unwrap().clone();
    assert_eq!(lines.len(), 5, "one line per request");
    let documents: Vec<Value> = lines.iter().map(|line| assert_valid_emf(line)).collect();
    let field = |i: usize, name: &str| documents[i][name].clone();

    assert_eq!(
        documents[0]["_aws"]["CloudWatchMetrics"][0]["Namespace"],
        "Test/UserApi"
    );
    // The first register leases an IM-id block (UpdateItem) and writes
    // (PutItem); the second has ids left: one call.
    assert_eq!(
        (field(0, "route"), field(0, "status_class")),
        (json!("register"), json!("2xx"))
    );
    assert_eq!(
        (field(0, "DynamoDbCalls"), field(1, "DynamoDbCalls")),
        (json!(2), json!(1))
    );
    assert_eq!((field(0, "ColdStart"), field(1, "ColdStart")), (json!(1), json!(0)));
    assert_eq!(field(0, "DynamoDbRetries"), 0);
    assert!(field(0, "Latency").as_f64().unwrap() > 0.0);
    // Batch reads: one BatchGetItem; the batch size counts the ids as sent.
    assert_eq!(
        (field(2, "route"), field(2, "BatchSize"), field(2, "DynamoDbCalls")),
        (json!("infos"), json!(3), json!(1))
    );
    assert!(
        documents[1].get("BatchSize").is_none(),
        "only batch requests have a size"
    );
    assert_eq!(
        (
            field(3, "status_class"),
            field(3, "Status401"),
            field(3, "DynamoDbCalls")
        ),
        (json!("4xx"), json!(1), json!(0))
    );
    assert_eq!((field(4, "route"), field(4, "Status401")), (json!("none"), json!(0)));
    for document in &documents {
        assert!(document["request_id"].as_str().is_some_and(|id| !id.is_empty()));
    }
}

#[tokio::test]
async fn sdk_retries_are_counted() {
    use crate::helpers::fault_proxy::{FaultPlan, FaultProxy};
    let proxy = FaultProxy::start(&crate::helpers::dynamodb_endpoint(), FaultPlan::lost_replies(3, 1.0)).await;
    let (app, _) = app_with_metrics(&[]).await;
    let lines = Lines::default();
    let sink = lines.clone();
    let proxied = aws_sdk_dynamodb::Client::from_conf(
        client()
            .await
            .config()
            .to_builder()
            .endpoint_url(&proxy.endpoint)
            .build(),
    );
    let vars = [("AUTH_DISABLED", "true"), ("METRICS_NAMESPACE", "Test/UserApi")];
    let behind = build_test_app(config(&app.table, &vars), proxied)
        .with_metrics_out(move |line| sink.lock().unwrap().push(line.to_owned()));
    // Every reply lost: the SDK tries three times, then gives up.
    let event = TestRequest::get("/server/user/info/x").unsigned().event();
    let request =
        lambda_http::Request::from(serde_json::from_value::<lambda_http::request::LambdaRequest>(event).unwrap());
    assert_eq!(behind.handle(request).await.status(), 503);
    let document = assert_valid_emf(&lines.lock().unwrap()[0]);
    assert_eq!(
        (&document["DynamoDbCalls"], &document["DynamoDbRetries"]),
        (&json!(1), &json!(2))
    );
    assert_eq!(document["status_class"], "5xx");
}

#[tokio::test]
async fn im_calls_are_counted() {
    let im = crate::helpers::fake_im::FakeIm::start(crate::helpers::IM_APP_ID, crate::helpers::IM_ADMIN_TOKEN).await;
    let url = im.base_url();
    let (app, lines) = app_with_metrics(&[
        ("IM_PROVIDER", "maxim"),
        ("MAXIM_API_URL", &url),
        ("MAXIM_APP_ID", crate::helpers::IM_APP_ID),
        ("MAXIM_ADMIN_TOKEN", crate::helpers::IM_ADMIN_TOKEN),
    ])
    .await;
    im.preexisting("qlcounted", "old-password");
    // Registered in the IM, found taken, so adopted: three IM calls; the
    // claim and the recorded IM id: two DynamoDB calls.
    app.register(json!({"user_id": "counted"})).await.assert_ok();
    let document = assert_valid_emf(&lines.lock().unwrap()[0]);
    assert_eq!(
        (&document["ImCalls"], &document["DynamoDbCalls"]),
        (&json!(3), &json!(2))
    );
}

#[tokio::test]
async fn a_batch_read_that_cannot_fit_the_reply_stops_asking_dynamodb() {
    use qnlive_user_api::domain::{Extends, ImAccount, NewUser, UserId};
    let (app, lines) = app_with_metrics(&[]).await;
    // 100 of the largest users the API accepts (64 entries of 64-character
    // keys and 1,024 CJK characters: about 200 KB each, 20 MB in all).
    // DynamoDB answers one BatchGetItem with at most 16 MB and leaves the
    // rest unprocessed; the first answer alone is over the reply limit.
    let extends: Extends = (0..64).map(|i| (format!("{i:0>64}"), "用".repeat(1024))).collect();
    let ids: Vec<String> = (0..100).map(|i| format!("large-{i:03}")).collect();
    for (n, id) in ids.iter().enumerate() {
        let user = NewUser {
            user_id: UserId::parse(id.clone(), "user_id").unwrap(),
            nick: String::new(),
            avatar: String::new(),
            extends: extends.clone(),
        };
        let account = ImAccount {
            im_userid: n as i64 + 1,
            im_username: format!("ql{id}"),
            im_password: "p".repeat(24),
        };
        app.store.create_user(&user, &account).await.unwrap();
    }
    let query: Vec<String> = ids.iter().map(|id| format!("user_ids={id}")).collect();
    let response = app
        .send(TestRequest::get("/server/user/infos").query(&query.join("&")))
        .await;
    response.assert_error(400, 400);
    assert!(response.message().contains("6 MB"), "{}", response.message());
    let document = assert_valid_emf(&lines.lock().unwrap()[0]);
    assert_eq!(
        (&document["DynamoDbCalls"], &document["DynamoDbRetries"]),
        (&json!(1), &json!(0)),
        "no second BatchGetItem for the keys DynamoDB left unprocessed"
    );
}
