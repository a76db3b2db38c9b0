//! `events/`: sample API Gateway HTTP API (2.0) events for
//! `sam local invoke -e` and `cargo lambda invoke --data-file`.
//!
//! They are generated here, from one list, signed with the development pair
//! in `scripts/dev-keys.env` and without `X-Qiniu-Date` (so they never
//! expire). Regenerate them with
//!
//! ```text
//! UPDATE_EVENTS=1 scripts/test.sh --test api events
//! ```
//!
//! A file is named `NN-what-STATUS-CODE.json`: run in order on an empty
//! table, it gets that HTTP status and envelope code.

use crate::helpers::{TestRequest, HOST};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};

fn dev_keys() -> (String, String) {
    let file = include_str!("../../scripts/dev-keys.env");
    let value = |name: &str| {
        file.lines()
            .find_map(|line| line.strip_prefix(name)?.strip_prefix('='))
            .unwrap_or_else(|| panic!("{name} in scripts/dev-keys.env"))
            .to_owned()
    };
    (value("QNLIVE_DEV_AK"), value("QNLIVE_DEV_SK"))
}

fn events_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("events")
}

/// The one source of the events: file name and request.
fn generated_events() -> Vec<(&'static str, Value)> {
    let (ak, sk) = dev_keys();
    let requests = [
        (
            "01-register-200-0",
            TestRequest::post(
                "/server/user/register",
                &json!({"user_id": "alice", "nick": "爱丽丝", "avatar": "https://example.com/alice.png", "extends": {"age": "18"}}),
            ),
        ),
        (
            "02-register-batch-200-0",
            TestRequest::post(
                "/server/user/register/batch",
                &json!([{"user_id": "bob", "nick": "Bob"}, {"user_id": "carol", "extends": {"vip": "1"}}]),
            ),
        ),
        (
            "03-update-200-0",
            TestRequest::put(
                "/server/user/alice",
                &json!({"nick": "new nick", "extends": {"level": "3"}}),
            ),
        ),
        ("04-info-200-0", TestRequest::get("/server/user/info/alice")),
        (
            "05-infos-200-0",
            TestRequest::get("/server/user/infos").query("user_ids=alice&user_ids=bob"),
        ),
        ("06-profile-200-0", TestRequest::get("/server/user/profile/alice")),
        (
            "07-profiles-200-0",
            TestRequest::get("/server/user/profiles").query("user_ids=carol&user_ids=bob"),
        ),
        (
            "08-register-existing-409-10001",
            TestRequest::post("/server/user/register", &json!({"user_id": "alice"})),
        ),
        (
            "09-info-wrong-signature-401-401",
            TestRequest::get("/server/user/info/alice").signed_with(&ak, "not-the-secret-key"),
        ),
    ];
    requests
        .into_iter()
        .map(|(name, request)| {
            let request = match name {
                n if n.contains("wrong-signature") => request,
                _ => request.signed_with(&ak, &sk),
            };
            (name, stable_event(name, &request))
        })
        .collect()
}

/// The request as API Gateway delivers it on a catch-all route, with fixed
/// ids and times so that regenerating gives the same bytes.
fn stable_event(name: &str, request: &TestRequest) -> Value {
    let mut event = request.event();
    let route_key = "ANY /server/user/{proxy+}";
    event["routeKey"] = json!(route_key);
    event["pathParameters"] = json!({"proxy": request.path.trim_start_matches("/server/user/")});
    let context = &mut event["requestContext"];
    context["requestId"] = json!(format!("event-{name}"));
    context["routeKey"] = json!(route_key);
    context["domainName"] = json!(HOST);
    event
}

fn render(event: &Value) -> String {
    serde_json::to_string_pretty(event).unwrap() + "\n"
}

fn committed_event_files() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(events_dir())
        .expect("events/ exists")
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    files
}

#[test]
fn committed_events_are_exactly_what_the_generator_writes() {
    let generated = generated_events();
    if std::env::var_os("UPDATE_EVENTS").is_some() {
        for stale in committed_event_files() {
            std::fs::remove_file(stale).unwrap();
        }
        for (name, event) in &generated {
            std::fs::write(events_dir().join(format!("{name}.json")), render(event)).unwrap();
        }
    }
    let committed: Vec<String> = committed_event_files()
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    let expected: Vec<String> = generated.iter().map(|(name, _)| format!("{name}.json")).collect();
    assert_eq!(
        committed, expected,
        "events/ holds exactly the generated files (UPDATE_EVENTS=1 regenerates)"
    );
    for (name, event) in &generated {
        let on_disk = std::fs::read_to_string(events_dir().join(format!("{name}.json"))).unwrap();
        assert!(
            on_disk == render(event),
            "events/{name}.json is stale: run UPDATE_EVENTS=1 scripts/test.sh --test api events"
        );
    }
}

#[tokio::test]
async fn every_event_gets_the_status_and_code_its_name_promises() {
    let (ak, sk) = dev_keys();
    let app = crate::helpers::spawn_app_with(&[("QINIU_KEYS", &format!("{ak}:{sk}"))]).await;
    let files = committed_event_files();
    assert!(
        files.len() >= 8,
        "one event per endpoint and at least one rejected signature"
    );
    for file in files {
        let name = file.file_stem().unwrap().to_string_lossy().into_owned();
        let mut parts = name.rsplitn(3, '-');
        let code: i64 = parts.next().unwrap().parse().expect("NN-what-STATUS-CODE.json");
        let status: u16 = parts.next().unwrap().parse().expect("NN-what-STATUS-CODE.json");
        let event: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
        // send_event parses it with lambda_http::request::from_str, as Lambda does.
        let response = app.send_event(&event).await;
        assert_eq!(
            (response.status, response.code()),
            (status, code),
            "{name}: {:#}",
            response.body
        );
    }
}
