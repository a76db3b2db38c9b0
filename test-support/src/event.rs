//! API Gateway HTTP API (payload 2.0) events, built the way API Gateway
//! builds them: header names lower-cased (unless asked otherwise),
//! repeated headers joined with commas, `body` left out when there is
//! none, a binary body base64-encoded.
//!
//! The one builder of events for the API tests, the fuzz targets
//! (`fuzz/fuzz_targets/request_parsing.rs`), the unit tests of `src/edge/`
//! and the benchmarks (`examples/api_gateway_event.rs`).

use base64::Engine;
use serde_json::{json, Value};

#[derive(Clone, Debug)]
pub struct HttpApiEvent {
    method: String,
    raw_path: String,
    raw_query: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    stage: Option<String>,
    request_id: String,
    keep_header_case: bool,
}

impl HttpApiEvent {
    /// `raw_path` as the client sent it: on a named stage, with the stage.
    pub fn new(method: &str, raw_path: &str) -> Self {
        HttpApiEvent {
            method: method.into(),
            raw_path: raw_path.into(),
            raw_query: String::new(),
            headers: Vec::new(),
            body: Vec::new(),
            stage: None,
            request_id: "api-gateway-request-id".into(),
            keep_header_case: false,
        }
    }

    pub fn query(mut self, raw_query: &str) -> Self {
        self.raw_query = raw_query.into();
        self
    }

    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    pub fn headers(mut self, headers: &[(String, String)]) -> Self {
        self.headers.extend_from_slice(headers);
        self
    }

    pub fn body(mut self, body: &[u8]) -> Self {
        self.body = body.to_vec();
        self
    }

    /// A named stage; without one the event says `$default`.
    pub fn stage(mut self, stage: &str) -> Self {
        self.stage = Some(stage.into());
        self
    }

    pub fn request_id(mut self, request_id: &str) -> Self {
        self.request_id = request_id.into();
        self
    }

    /// Send header names as given, as some proxies in front of a Function
    /// URL do, instead of lower-cased like API Gateway.
    pub fn keep_header_case(mut self) -> Self {
        self.keep_header_case = true;
        self
    }

    pub fn to_json(&self) -> Value {
        let mut headers: Vec<(String, String)> = Vec::new();
        for (name, value) in &self.headers {
            let name = if self.keep_header_case {
                name.clone()
            } else {
                name.to_ascii_lowercase()
            };
            match headers.iter_mut().find(|(n, _)| n.eq_ignore_ascii_case(&name)) {
                Some((_, existing)) => {
                    existing.push(',');
                    existing.push_str(value);
                }
                None => headers.push((name, value.clone())),
            }
        }
        let headers: serde_json::Map<String, Value> = headers.into_iter().map(|(k, v)| (k, Value::String(v))).collect();
        let mut event = json!({
            "version": "2.0",
            "routeKey": "$default",
            "rawPath": self.raw_path,
            "rawQueryString": self.raw_query,
            "headers": headers,
            "requestContext": {
                "accountId": "123456789012",
                "apiId": "api",
                "domainName": "api.example.com",
                "domainPrefix": "api",
                "http": {
                    "method": self.method,
                    "path": self.raw_path,
                    "protocol": "HTTP/1.1",
                    "sourceIp": "127.0.0.1",
                    "userAgent": "tests"
                },
                "requestId": self.request_id,
                "routeKey": "$default",
                "stage": self.stage.as_deref().unwrap_or("$default"),
                "time": "30/Nov/2026:00:00:00 +0000",
                "timeEpoch": 1_796_000_000_000u64
            },
            "isBase64Encoded": false
        });
        if !self.body.is_empty() {
            let (body, is_base64) = match std::str::from_utf8(&self.body) {
                Ok(text) => (text.to_owned(), false),
                Err(_) => (base64::engine::general_purpose::STANDARD.encode(&self.body), true),
            };
            event["body"] = Value::String(body);
            event["isBase64Encoded"] = Value::Bool(is_base64);
        }
        event
    }
}
