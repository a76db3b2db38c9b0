//! Property tests: signatures made by an independent signer verify for any
//! method, path, query, headers and body; any single-byte change of a signed
//! part is rejected; request parsing never panics on any bytes.

use lambda_http::http::{HeaderMap, HeaderName, HeaderValue, Method};
use proptest::prelude::*;
use qnlive_user_api::domain::UserId;
use qnlive_user_api::edge::auth::{verify, KeyRing, Rejection, SignedRequest};
use qnlive_user_api::edge::{decode, routes};
use std::time::SystemTime;

const AK: &str = "prop-ak";
const SK: &str = "prop-sk-secret";

#[derive(Clone, Debug)]
struct Signed {
    method: String,
    path: String,
    query: String,
    /// (name as sent, value); names are unique case-insensitively.
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

fn segment() -> impl Strategy<Value = String> {
    // Plain characters and percent-escapes, as clients send them.
    prop::collection::vec(prop_oneof!["[a-zA-Z0-9._~-]{1,6}", "%[0-9A-F]{2}"], 1..4).prop_map(|parts| parts.concat())
}

fn signed_request() -> impl Strategy<Value = Signed> {
    let method = prop_oneof![Just("GET"), Just("POST"), Just("PUT"), Just("DELETE"), Just("PATCH")];
    let path = prop::collection::vec(segment(), 1..5).prop_map(|segments| format!("/{}", segments.join("/")));
    let pair = (segment(), segment()).prop_map(|(k, v)| format!("{k}={v}"));
    // Repeated keys on purpose: user_ids=a&user_ids=b.
    let query = prop::collection::vec(prop_oneof![pair, segment().prop_map(|v| format!("user_ids={v}"))], 0..5)
        .prop_map(|pairs| pairs.join("&"));
    // X-Qiniu-Date is left out: it is checked against the clock.
    let name = "[a-z]{1,8}".prop_filter("not the date", |n| n != "date");
    let qiniu_header = (name, "[ -~]{0,20}", any::<u8>()).prop_map(|(name, value, case)| {
        // Mixed case, as different clients and gateways send them.
        let name = match case % 3 {
            0 => format!("x-qiniu-{name}"),
            1 => format!("X-QINIU-{}", name.to_ascii_uppercase()),
            _ => format!("X-Qiniu-{name}"),
        };
        (name, value.trim().to_owned())
    });
    let content_type = prop_oneof![
        Just(None),
        Just(Some("application/json")),
        Just(Some("application/x-www-form-urlencoded")),
        Just(Some("application/octet-stream")),
        Just(Some("text/plain")),
    ];
    (
        method,
        path,
        query,
        prop::collection::vec(qiniu_header, 0..4),
        content_type,
        prop::collection::vec(any::<u8>(), 0..64),
    )
        .prop_map(|(method, path, query, qiniu, content_type, body)| {
            let mut headers = vec![("Host".to_owned(), "api.example.com".to_owned())];
            if let Some(content_type) = content_type {
                headers.push(("Content-Type".into(), content_type.into()));
            }
            for (name, value) in qiniu {
                if !headers.iter().any(|(n, _)| n.eq_ignore_ascii_case(&name)) {
                    headers.push((name, value));
                }
            }
            Signed {
                method: method.into(),
                path,
                query,
                headers,
                body,
            }
        })
}

fn header_map(headers: &[(String, String)], authorization: &str) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (name, value) in headers {
        map.append(
            HeaderName::from_bytes(name.as_bytes()).unwrap(),
            HeaderValue::from_bytes(value.as_bytes()).unwrap(),
        );
    }
    map.insert("authorization", HeaderValue::from_str(authorization).unwrap());
    map
}

fn check(request: &Signed, authorization: &str) -> Result<(), Rejection> {
    let keys = KeyRing::parse(&format!("{AK}:{SK}")).unwrap();
    let headers = header_map(&request.headers, authorization);
    let paths = [request.path.clone()];
    let signed = SignedRequest {
        method: &request.method,
        paths: &paths,
        query: Some(&request.query),
        headers: &headers,
        body: &request.body,
    };
    verify(&keys, &signed, false, SystemTime::now())
}

fn token(request: &Signed) -> String {
    let signature = crate::helpers::independent_sign(
        SK,
        &request.method,
        &request.path,
        &request.query,
        &request.headers,
        &request.body,
    );
    format!("Qiniu {AK}:{signature}")
}

/// Whether the body is part of what was signed.
fn body_signed(request: &Signed) -> bool {
    let content_type = request
        .headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-type"));
    !request.body.is_empty() && content_type.is_some_and(|(_, v)| v != "application/octet-stream")
}

/// Changes one byte of `text` at `at` (mod length) to another printable
/// byte that keeps it a valid header value / URL part.
fn change_byte(text: &str, at: usize, to: u8) -> Option<String> {
    if text.is_empty() {
        return None;
    }
    let mut bytes = text.as_bytes().to_vec();
    let i = at % bytes.len();
    let replacement = b'a' + (to % 26);
    if bytes[i] == replacement || bytes[i].eq_ignore_ascii_case(&replacement) && text.starts_with("X-") {
        return None;
    }
    bytes[i] = replacement;
    String::from_utf8(bytes).ok()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn an_independently_made_signature_verifies(request in signed_request()) {
        prop_assert_eq!(check(&request, &token(&request)), Ok(()));
    }

    #[test]
    fn changing_any_signed_byte_is_rejected(request in signed_request(), at in any::<usize>(), to in any::<u8>(), part in 0..5usize) {
        let authorization = token(&request);
        let mut changed = request.clone();
        let applied = match part {
            0 => change_byte(&request.method, at, to).map(|m| changed.method = m.to_ascii_uppercase()).is_some()
                && changed.method != request.method,
            1 => change_byte(&request.path, at, to).map(|p| changed.path = p).is_some(),
            2 => change_byte(&request.query, at, to).map(|q| changed.query = q).is_some(),
            3 => {
                // A signed header value: Host or an X-Qiniu-* header.
                let signed: Vec<usize> = (0..request.headers.len())
                    .filter(|&i| {
                        let name = request.headers[i].0.to_ascii_lowercase();
                        name == "host" || name.starts_with("x-qiniu-")
                    })
                    .collect();
                let i = signed[at % signed.len()];
                match change_byte(&request.headers[i].1, at / 7, to) {
                    Some(value) => { changed.headers[i].1 = value; true }
                    None => false,
                }
            }
            _ => {
                if body_signed(&request) {
                    let i = at % request.body.len();
                    changed.body[i] = changed.body[i].wrapping_add(1 + to % 200);
                    true
                } else {
                    false
                }
            }
        };
        prop_assume!(applied);
        prop_assert_eq!(check(&changed, &authorization), Err(Rejection::BadToken));
    }

    #[test]
    fn request_parsing_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..512), text in "\\PC{0,64}") {
        let _ = decode::new_user(&bytes);
        let _ = decode::new_users(&bytes);
        let id = UserId::parse("u".into(), "user_id").unwrap();
        let _ = decode::user_changes(&bytes, &id);
        let query = String::from_utf8_lossy(&bytes);
        let _ = decode::user_ids(Some(&query), &bytes);
        let _ = decode::user_ids(None, &bytes);
        for method in [Method::GET, Method::POST, Method::PUT] {
            if let Ok(route) = routes::route(&method, &format!("/server/user/{text}")) {
                let _ = route.name();
            }
        }
        let _ = routes::path_user_id(&text);
        let _ = qnlive_user_api::edge::auth::parse_qiniu_date(&bytes);
    }

    #[test]
    fn any_authorization_header_is_answered_without_panic(header in prop::collection::vec(any::<u8>(), 0..80)) {
        let request = Signed { method: "GET".into(), path: "/".into(), query: String::new(), headers: vec![], body: vec![] };
        if let Ok(value) = HeaderValue::from_bytes(&header) {
            let keys = KeyRing::parse(&format!("{AK}:{SK}")).unwrap();
            let mut headers = HeaderMap::new();
            headers.insert("authorization", value);
            let paths = [request.path.clone()];
            let signed = SignedRequest { method: "GET", paths: &paths, query: None, headers: &headers, body: &[] };
            prop_assert_eq!(verify(&keys, &signed, false, SystemTime::now()), Err(Rejection::BadToken));
        }
    }
}
