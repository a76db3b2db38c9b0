//! Any method, raw path, raw query, Host and body, as an API Gateway event:
//! the event becomes a request (src/edge/lambda.rs guards lambda_http), and
//! routing and every body and query parser answer without panicking.
#![no_main]

use qnlive_test_support::event::HttpApiEvent;
use lambda_http::http::Method;
use lambda_http::request::LambdaRequest;
use libfuzzer_sys::fuzz_target;
use qnlive_user_api::domain::UserId;
use qnlive_user_api::edge::{decode, lambda, routes};

fuzz_target!(|data: &[u8]| {
    let mut parts = data.split(|b| *b == 0xFF);
    let mut next = || String::from_utf8_lossy(parts.next().unwrap_or_default()).into_owned();
    let (method, path, query, host) = (next(), next(), next(), next());
    let body = parts.next().unwrap_or_default();
    let method = match method.len() % 4 {
        0 => Method::GET,
        1 => Method::POST,
        2 => Method::PUT,
        _ => Method::DELETE,
    };

    let event = HttpApiEvent::new(method.as_str(), &path)
        .query(&query)
        .header("host", &host)
        .body(body)
        .to_json();
    if let Ok(mut event) = serde_json::from_value::<LambdaRequest>(event) {
        lambda::make_parseable(&mut event);
        let request = lambda_http::Request::from(event);
        let _ = request.uri().query();
    }

    if let Ok(route) = routes::route(&method, &path) {
        let _ = route.name();
    }
    let segment = path.rsplit('/').next().unwrap_or_default();
    let _ = routes::path_user_id(segment);
    let _ = decode::new_user(body);
    let _ = decode::new_users(body);
    let _ = decode::user_ids(Some(&query), body);
    if let Ok(id) = UserId::parse("u".into(), "user_id") {
        let _ = decode::user_changes(body, &id);
    }
});
