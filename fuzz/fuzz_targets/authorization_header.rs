//! Any `Authorization` and `X-Qiniu-Date` header bytes: verification answers
//! (and never accepts a forged token) without panicking.
#![no_main]

use lambda_http::http::{HeaderMap, HeaderValue};
use libfuzzer_sys::fuzz_target;
use qnlive_user_api::edge::auth::{parse_qiniu_date, verify, KeyRing, SignedRequest};
use std::time::SystemTime;

fuzz_target!(|data: &[u8]| {
    let (date, authorization) = data.split_at(data.len().min(16));
    let _ = parse_qiniu_date(date);
    let keys = KeyRing::parse("fuzz-ak:fuzz-sk").unwrap();
    let mut headers = HeaderMap::new();
    headers.insert("host", HeaderValue::from_static("api.example.com"));
    if let Ok(value) = HeaderValue::from_bytes(authorization) {
        headers.insert("authorization", value);
    }
    if let Ok(value) = HeaderValue::from_bytes(date) {
        headers.insert("x-qiniu-date", value);
    }
    let paths = ["/server/user/info/u".to_owned()];
    let request = SignedRequest { method: "GET", paths: &paths, query: None, headers: &headers, body: &[] };
    // Random bytes are never a valid HMAC-SHA1 of this request.
    assert!(verify(&keys, &request, data.first() == Some(&0), SystemTime::now()).is_err());
});
