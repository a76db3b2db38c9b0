//! The rules of `auth`, each form the official SDKs sign, and tampering
//! under every one of them.

use super::signing::*;
use super::*;
use lambda_http::http::{HeaderName, HeaderValue};
use std::time::Duration;

fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (name, value) in pairs {
        map.append(
            HeaderName::from_bytes(name.as_bytes()).unwrap(),
            HeaderValue::from_str(value).unwrap(),
        );
    }
    map
}

#[test]
fn signing_data_follows_the_contract_layout() {
    let h = headers(&[
        ("host", "api.example.com"),
        ("content-type", "application/json"),
        ("x-qiniu-date", "20261130T010203Z"),
        ("X-Qiniu-Bucket", "b"),
        ("x-other", "ignored"),
    ]);
    let data = signing_data("POST", "/server/user/register", Some("a=1"), &h, b"{}");
    assert_eq!(
        String::from_utf8(data).unwrap(),
        "POST /server/user/register?a=1\nHost: api.example.com\nContent-Type: application/json\n\
         X-Qiniu-Bucket: b\nX-Qiniu-Date: 20261130T010203Z\n\n{}"
    );
}

#[test]
fn a_header_named_just_x_qiniu_is_not_signed_as_go_does() {
    let h = headers(&[("host", "h"), ("x-qiniu-", "bare"), ("x-qiniu-a", "1")]);
    assert_eq!(
        String::from_utf8(signing_data("GET", "/p", None, &h, b"")).unwrap(),
        "GET /p\nHost: h\nX-Qiniu-A: 1\n\n"
    );
}

#[test]
fn body_is_not_signed_without_content_type_or_as_octet_stream() {
    let plain = headers(&[("host", "h")]);
    assert_eq!(signing_data("GET", "/p", None, &plain, b"x"), b"GET /p\nHost: h\n\n");
    let octet = headers(&[("host", "h"), ("content-type", "application/octet-stream")]);
    assert_eq!(
        signing_data("GET", "/p", Some(""), &octet, b"x"),
        b"GET /p\nHost: h\nContent-Type: application/octet-stream\n\n"
    );
}

#[test]
fn canonical_header_key_matches_go() {
    assert_eq!(canonical_header_key("x-qiniu-date"), "X-Qiniu-Date");
    assert_eq!(canonical_header_key("X-QINIU-META-ABC"), "X-Qiniu-Meta-Abc");
    assert_eq!(canonical_header_key("x-qiniu-a_b"), "X-Qiniu-A_b");
    assert_eq!(canonical_header_key("bad header"), "bad header");
}

#[test]
fn key_ring_parses_pairs_and_rejects_malformed_ones() {
    let ring = KeyRing::parse(" ak1:sk1 , ak2:sk:2 ,").unwrap();
    assert_eq!(ring.access_keys().collect::<Vec<_>>(), ["ak1", "ak2"]);
    assert!(KeyRing::parse("ak1").is_err());
    assert!(KeyRing::parse("ak1:").is_err());
    assert!(KeyRing::parse("a:1,a:2").is_err());
    assert!(KeyRing::parse("").unwrap().is_empty());
    let err = KeyRing::parse("ak:secret,broken").unwrap_err();
    assert!(!err.contains("secret"));
}

#[test]
fn secret_key_debug_is_redacted() {
    assert!(!format!("{:?}", KeyRing::parse("ak:topsecret").unwrap()).contains("topsecret"));
    assert_eq!(format!("{:?}", SecretKey::new("topsecret")), "SecretKey(<redacted>)");
}

#[test]
fn a_signed_date_is_accepted_up_to_15_minutes_either_way_of_the_clock() {
    let signed_at = UNIX_EPOCH + Duration::from_secs(1_796_000_523);
    let mut dated = call("GET", "/server/user/info/u", None, "");
    dated.qiniu_headers = vec![("X-Qiniu-Date".into(), format_qiniu_date(signed_at))];
    let arrival = arrival(Sdk::Python, &dated);
    let keys = KeyRing::parse(&format!("{AK}:{SK}")).unwrap();
    let paths = [arrival.path.clone()];
    let at = |now: SystemTime| verify(&keys, &arrival.signed(&paths), false, now);
    let window = Duration::from_secs(15 * 60);
    let second = Duration::from_secs(1);
    assert_eq!(at(signed_at), Ok(()));
    assert_eq!(at(signed_at + window), Ok(()), "15 minutes late");
    assert_eq!(at(signed_at - window), Ok(()), "15 minutes early");
    assert_eq!(at(signed_at + window + second), Err(Rejection::Expired));
    assert_eq!(at(signed_at - window - second), Err(Rejection::Expired));
}

#[test]
fn with_require_date_a_request_must_carry_a_signed_date() {
    let keys = KeyRing::parse(&format!("{AK}:{SK}")).unwrap();
    let dated = arrival(Sdk::Python, &call("GET", "/server/user/info/u", None, ""));
    let mut undated_call = call("GET", "/server/user/info/u", None, "");
    undated_call.qiniu_headers.clear();
    let undated = arrival(Sdk::Python, &undated_call);
    for (arrival, require_date, expected) in [
        (&dated, true, Ok(())),
        (&dated, false, Ok(())),
        (&undated, false, Ok(())),
        (&undated, true, Err(Rejection::Expired)),
    ] {
        let paths = [arrival.path.clone()];
        assert_eq!(
            verify(&keys, &arrival.signed(&paths), require_date, SystemTime::now()),
            expected,
            "require_date {require_date}"
        );
    }
}

#[test]
fn only_a_well_formed_qiniu_token_counts_as_signed() {
    assert!(has_token(&headers(&[("authorization", "Qiniu ak:c2lnbmF0dXJl")])));
    for unsigned in [
        "",
        "Qiniu ak",
        "Qiniu :c2ln",
        "Qiniu ak:",
        "Bearer ak:c2ln",
        "Qiniu ak:!!",
    ] {
        assert!(!has_token(&headers(&[("authorization", unsigned)])), "{unsigned:?}");
    }
    assert!(!has_token(&headers(&[])));
}

#[test]
fn an_authorization_needs_an_access_key_and_a_signature() {
    let (ak, signature) = parse_authorization(b"Qiniu ak:c2ln").unwrap();
    assert_eq!((ak, signature.as_slice()), ("ak", &b"sig"[..]));
    for malformed in ["Qiniu ak:", "Qiniu :c2ln", "Qiniu :", "Qiniu akc2ln", "Qiniuak:c2ln"] {
        assert_eq!(parse_authorization(malformed.as_bytes()), None, "{malformed}");
    }
}

#[test]
fn qiniu_date_round_trips_and_rejects_malformed_values() {
    let t = UNIX_EPOCH + Duration::from_secs(1_796_000_523);
    let s = format_qiniu_date(t);
    assert_eq!(parse_qiniu_date(s.as_bytes()), Some(1_796_000_523));
    assert_eq!(parse_qiniu_date(b"19700101T000000Z"), Some(0));
    assert_eq!(parse_qiniu_date(b"20240229T235959Z"), Some(1_709_251_199));
    for bad in [
        "20230229T000000Z",
        "20261130T240000Z",
        "2026-11-30T0000",
        "20261130 010203Z",
        "+0261130T010203Z",
        "",
    ] {
        assert_eq!(parse_qiniu_date(bad.as_bytes()), None, "{bad}");
    }
}

#[test]
fn qiniu_dates_match_the_calendar() {
    for (text, secs) in [
        ("19700101T000000Z", 0),
        ("19721231T235959Z", 94_694_399),
        ("20000229T120000Z", 951_825_600),
        ("20000301T000000Z", 951_868_800),
        ("21000301T000000Z", 4_107_542_400),
        ("99991231T235959Z", 253_402_300_799),
    ] {
        assert_eq!(parse_qiniu_date(text.as_bytes()), Some(secs), "{text}");
        assert_eq!(format_qiniu_date(UNIX_EPOCH + Duration::from_secs(secs)), text);
    }
    for bad in [
        "19691231T235959Z",
        "00000101T000000Z",
        "21000229T000000Z",
        "20260001T000000Z",
        "20260132T000000Z",
    ] {
        assert_eq!(parse_qiniu_date(bad.as_bytes()), None, "{bad}");
    }
    // Every day (at a moving time of day) from 1970 to 2200 round-trips.
    for day in 0..84_000u64 {
        let secs = day * 86_400 + day * 7 % 86_400;
        let text = format_qiniu_date(UNIX_EPOCH + Duration::from_secs(secs));
        assert_eq!(parse_qiniu_date(text.as_bytes()), Some(secs), "{text}");
    }
    assert_eq!(
        format_qiniu_date(UNIX_EPOCH - Duration::from_secs(1)),
        "19700101T000000Z"
    );
    assert_eq!(
        format_qiniu_date(UNIX_EPOCH + Duration::from_secs(u64::MAX / 2)),
        "99991231T235959Z"
    );
}

// ------------------------------------------------------------------
// Official clients. Each signer below builds its string from the SDK's
// own rules, independently of the code above:
// - Python: qiniu 7.18 `qiniu/auth.py`, `QiniuMacAuth.token_of_request`.
// - Node:   npm qiniu 7.15.2 `qiniu/util.js`, `generateAccessTokenV2`.
// - Go:     github.com/qiniu/go-sdk/v7 `auth/credentials.go`,
//           `collectDataV2` / `incBodyV2` (v7.27.0).

const AK: &str = "client-ak";
const SK: &str = "client-sk-0123456789";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sdk {
    Python,
    Node,
    Go,
}
const SDKS: [Sdk; 3] = [Sdk::Python, Sdk::Node, Sdk::Go];

/// A request as the caller's code hands it to its SDK.
#[derive(Debug, Clone)]
struct Call {
    method: String,
    /// As it goes on the wire: percent-encoded.
    path: String,
    /// Raw, as sent; empty for none.
    query: String,
    /// As sent in the Host header (with the port if not the default).
    host: String,
    /// The content type the caller gives (`None`: it gives none).
    content_type: Option<String>,
    /// Canonical names.
    qiniu_headers: Vec<(String, String)>,
    body: Vec<u8>,
}

fn call(method: &str, path_and_query: &str, content_type: Option<&str>, body: &str) -> Call {
    let (path, query) = path_and_query.split_once('?').unwrap_or((path_and_query, ""));
    Call {
        method: method.into(),
        path: path.into(),
        query: query.into(),
        host: "127.0.0.1:9000".into(),
        content_type: content_type.map(Into::into),
        qiniu_headers: vec![("X-Qiniu-Date".into(), format_qiniu_date(SystemTime::now()))],
        body: body.as_bytes().to_vec(),
    }
}

/// Go's `url.PathUnescape` for the paths used here (valid escapes only).
fn go_path_unescape(path: &str) -> Vec<u8> {
    let bytes = path.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap();
            out.push(u8::from_str_radix(hex, 16).unwrap());
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    out
}

/// The string each SDK signs for `call`.
fn sdk_signing_string(sdk: Sdk, call: &Call) -> Vec<u8> {
    let mut s: Vec<u8> = format!("{} ", call.method).into_bytes();
    // Path: Python and Node sign it as sent (urlparse(url).path,
    // WHATWG `u.pathname`), Go its decoded `req.URL.Path`.
    match sdk {
        Sdk::Python | Sdk::Node => s.extend_from_slice(call.path.as_bytes()),
        Sdk::Go => s.extend_from_slice(&go_path_unescape(&call.path)),
    }
    if !call.query.is_empty() {
        s.extend_from_slice(format!("?{}", call.query).as_bytes());
    }
    // Host: Node writes `u.host` and then `':' + u.port` again.
    let host = match (sdk, call.host.rsplit_once(':')) {
        (Sdk::Node, Some((_, port))) => format!("{}:{port}", call.host),
        _ => call.host.clone(),
    };
    s.extend_from_slice(format!("\nHost: {host}").as_bytes());
    // Content-Type: Python writes a line only for a given type; Node
    // and Go default to the form type.
    let content_type = match sdk {
        Sdk::Python => call.content_type.clone(),
        Sdk::Node | Sdk::Go => Some(
            call.content_type
                .clone()
                .unwrap_or_else(|| "application/x-www-form-urlencoded".into()),
        ),
    };
    if let Some(content_type) = &content_type {
        s.extend_from_slice(format!("\nContent-Type: {content_type}").as_bytes());
    }
    let mut qiniu = call.qiniu_headers.clone();
    qiniu.sort();
    for (name, value) in qiniu {
        s.extend_from_slice(format!("\n{name}: {value}").as_bytes());
    }
    s.extend_from_slice(b"\n\n");
    // Body: Python only with a given type other than octet-stream;
    // Node whenever there is one and the given type is not
    // octet-stream; Go only for exactly JSON or form.
    let signs_body = match sdk {
        Sdk::Python => content_type
            .as_deref()
            .is_some_and(|ct| ct != "application/octet-stream"),
        Sdk::Node => call.content_type.as_deref() != Some("application/octet-stream"),
        Sdk::Go => matches!(
            content_type.as_deref(),
            Some("application/json" | "application/x-www-form-urlencoded")
        ),
    };
    if signs_body {
        s.extend_from_slice(&call.body);
    }
    s
}

fn hmac_token(access_key: &str, secret: &str, data: &[u8]) -> String {
    let mut mac = HmacSha1::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(data);
    let signature = base64::engine::general_purpose::URL_SAFE.encode(mac.finalize().into_bytes());
    format!("Qiniu {access_key}:{signature}")
}

/// A request as it reaches the service.
#[derive(Debug, Clone)]
struct Arrival {
    method: String,
    path: String,
    query: String,
    headers: HeaderMap,
    body: Vec<u8>,
}

impl Arrival {
    fn verify(&self) -> Result<(), Rejection> {
        self.verify_with_paths(std::slice::from_ref(&self.path))
    }

    fn verify_with_paths(&self, paths: &[String]) -> Result<(), Rejection> {
        let keys = KeyRing::parse(&format!("other-ak:other-sk,{AK}:{SK}")).unwrap();
        verify(&keys, &self.signed(paths), false, SystemTime::now())
    }

    fn signed<'a>(&'a self, paths: &'a [String]) -> SignedRequest<'a> {
        SignedRequest {
            method: &self.method,
            paths,
            query: Some(&self.query),
            headers: &self.headers,
            body: &self.body,
        }
    }

    fn hmacs(&self) -> SignatureCheck {
        let authorization = self.headers.get("authorization").unwrap().as_bytes();
        let (_, signature) = parse_authorization(authorization).unwrap();
        let paths = [self.path.clone()];
        let forms = SigningForms::of(&self.signed(&paths));
        check_signature(&SecretKey::new(SK), &forms, &signature)
    }

    fn candidates(&self) -> Vec<Vec<u8>> {
        signing_candidates(&self.signed(std::slice::from_ref(&self.path)))
    }

    fn with_header(mut self, name: &str, value: &str) -> Self {
        self.headers.insert(
            HeaderName::from_bytes(name.as_bytes()).unwrap(),
            HeaderValue::from_str(value).unwrap(),
        );
        self
    }
}

/// `call` signed by `sdk` with `secret`, as it arrives: header names
/// lower-cased (API Gateway), the Content-Type only if the caller gave
/// one, except for Go, which sends the form type it signed.
fn arrival_signed_with(sdk: Sdk, call: &Call, secret: &str) -> Arrival {
    let mut pairs = vec![("host".to_owned(), call.host.clone())];
    let content_type = match sdk {
        Sdk::Go => Some(
            call.content_type
                .clone()
                .unwrap_or_else(|| "application/x-www-form-urlencoded".into()),
        ),
        Sdk::Python | Sdk::Node => call.content_type.clone(),
    };
    if let Some(content_type) = content_type {
        pairs.push(("content-type".into(), content_type));
    }
    for (name, value) in &call.qiniu_headers {
        pairs.push((name.to_ascii_lowercase(), value.clone()));
    }
    pairs.push((
        "authorization".into(),
        hmac_token(AK, secret, &sdk_signing_string(sdk, call)),
    ));
    let borrowed: Vec<(&str, &str)> = pairs.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
    Arrival {
        method: call.method.clone(),
        path: call.path.clone(),
        query: call.query.clone(),
        headers: headers(&borrowed),
        body: call.body.clone(),
    }
}

fn arrival(sdk: Sdk, call: &Call) -> Arrival {
    arrival_signed_with(sdk, call, SK)
}

/// Requests for all seven endpoints, with ids that need
/// percent-encoding, with and without a content type, with and
/// without a port in the Host.
fn calls() -> Vec<Call> {
    let json = Some("application/json");
    let mut calls = vec![
        call(
            "POST",
            "/server/user/register",
            json,
            r#"{"user_id":"张 三","nick":"用户"}"#,
        ),
        call(
            "POST",
            "/server/user/register/batch",
            json,
            r#"[{"user_id":"a b"},{"user_id":"c"}]"#,
        ),
        call("PUT", "/server/user/%E5%BC%A0%20%E4%B8%89", json, r#"{"nick":"新"}"#),
        call("GET", "/server/user/info/%E5%BC%A0%20%E4%B8%89", None, ""),
        call("GET", "/server/user/profile/a%20b", None, ""),
        call(
            "GET",
            "/server/user/infos?user_ids=%E5%BC%A0%20%E4%B8%89&user_ids=a%20b&user_ids=c",
            None,
            "",
        ),
        call("GET", "/server/user/profiles?user_ids=c&user_ids=c", None, ""),
        call("GET", "/server/user/info/plain-ascii", json, ""),
        // A JSON body sent without a content type.
        call("POST", "/server/user/register", None, r#"{"user_id":"u"}"#),
        // Ids that decode to a `/` or keep a `%` (not an escape).
        call("GET", "/server/user/info/a%2Fb", None, ""),
        call("PUT", "/server/user/100%25", json, r#"{"nick":"n"}"#),
    ];
    let mut without_port = calls[0].clone();
    without_port.host = "api.example.com".into();
    let mut no_date = calls[3].clone();
    no_date.host = "api.example.com".into();
    no_date.qiniu_headers = vec![("X-Qiniu-Meta-Trace".into(), "t1".into())];
    calls.extend([without_port, no_date]);
    calls
}

#[test]
fn every_official_client_is_accepted() {
    for call in calls() {
        for sdk in SDKS {
            let mut arrival = arrival(sdk, &call);
            let require_date = call.qiniu_headers.iter().any(|(n, _)| n == "X-Qiniu-Date");
            let keys = KeyRing::parse(&format!("{AK}:{SK}")).unwrap();
            let paths = [arrival.path.clone()];
            assert_eq!(
                verify(&keys, &arrival.signed(&paths), require_date, SystemTime::now()),
                Ok(()),
                "{sdk:?} {call:?}"
            );
            // Behind a stage: the path forms the edge passes.
            arrival.path = format!("/prod{}", call.path);
            let mut staged = call.clone();
            staged.path = arrival.path.clone();
            let staged = arrival_signed_with(sdk, &staged, SK);
            let forms = [call.path.clone(), staged.path.clone()];
            assert_eq!(
                verify(&keys, &staged.signed(&forms), require_date, SystemTime::now()),
                Ok(()),
                "{sdk:?} staged {call:?}"
            );
        }
    }
}

/// Every way to change a signed part of `arrival`.
fn tamperings(arrival: &Arrival) -> Vec<(&'static str, Arrival)> {
    let mut out = Vec::new();
    let mut changed = |what: &'static str, change: &dyn Fn(&mut Arrival)| {
        let mut copy = arrival.clone();
        change(&mut copy);
        out.push((what, copy));
    };
    changed("method", &|a| {
        a.method = if a.method == "GET" { "POST".into() } else { "GET".into() }
    });
    changed("method case", &|a| a.method = a.method.to_ascii_lowercase());
    changed("path: another id", &|a| a.path.push('x'));
    changed("path: double-encoded", &|a| a.path = a.path.replace('%', "%25"));
    changed("path: escaped query", &|a| {
        a.path = format!("{}%3F{}", a.path, a.query);
        a.query.clear();
    });
    changed("query added", &|a| {
        a.query.push_str(if a.query.is_empty() { "a=1" } else { "&a=1" })
    });
    changed("query changed", &|a| {
        a.query = a.query.replace("user_ids=c", "user_ids=d")
    });
    changed("query removed", &|a| a.query.clear());
    changed("host", &|a| {
        a.headers = retarget(&a.headers, "host", |h| h.replace("127.0.0.1", "127.0.0.2"))
    });
    changed("host port", &|a| {
        a.headers = retarget(&a.headers, "host", |h| h.replace(":9000", ":9001"))
    });
    changed("host port doubled", &|a| {
        a.headers = retarget(&a.headers, "host", |h| {
            if h.contains(":9000") {
                format!("{h}:9000")
            } else {
                format!("{h}:80")
            }
        })
    });
    changed("X-Qiniu header value", &|a| {
        a.headers = retarget(&a.headers, "x-qiniu-date", |d| d.replace('Z', "z"))
    });
    changed("X-Qiniu header added", &|a| {
        a.headers.insert("x-qiniu-extra", HeaderValue::from_static("1"));
    });
    changed("X-Qiniu header removed", &|a| {
        a.headers.remove("x-qiniu-meta-trace");
        a.headers.remove("x-qiniu-date");
    });
    changed("content type changed", &|a| {
        a.headers.insert("content-type", HeaderValue::from_static("text/plain"));
    });
    changed("content type set to form", &|a| {
        a.headers.insert(
            "content-type",
            HeaderValue::from_static("application/x-www-form-urlencoded"),
        );
    });
    changed("key", &|a| {
        let token = a.headers["authorization"].to_str().unwrap().to_owned();
        let (ak, sig) = token.split_once(':').unwrap();
        // The same signature under the other configured AK.
        let other = format!("{}:{sig}", ak.replace(AK, "other-ak"));
        a.headers
            .insert("authorization", HeaderValue::from_str(&other).unwrap());
    });
    out.retain(|(_, changed)| !same(changed, arrival));
    out
}

fn same(a: &Arrival, b: &Arrival) -> bool {
    (
        a.method.as_str(),
        a.path.as_str(),
        a.query.as_str(),
        &a.headers,
        a.body.as_slice(),
    ) == (
        b.method.as_str(),
        b.path.as_str(),
        b.query.as_str(),
        &b.headers,
        b.body.as_slice(),
    )
}

fn retarget(headers: &HeaderMap, name: &'static str, change: impl Fn(&str) -> String) -> HeaderMap {
    let mut headers = headers.clone();
    if let Some(value) = headers.get(name) {
        let value = change(value.to_str().unwrap());
        headers.insert(name, HeaderValue::from_str(&value).unwrap());
    }
    headers
}

/// Whether `sdk`'s signature covers the body of `call`.
fn body_signed(sdk: Sdk, call: &Call) -> bool {
    let mut changed = call.clone();
    changed.body.push(b' ');
    !call.body.is_empty() && sdk_signing_string(sdk, &changed) != sdk_signing_string(sdk, call)
}

#[test]
fn tampering_is_rejected_under_every_accepted_form() {
    for call in calls() {
        for sdk in SDKS {
            let arrival = arrival(sdk, &call);
            assert_eq!(arrival.verify(), Ok(()), "{sdk:?} {call:?}");
            for (what, changed) in tamperings(&arrival) {
                let signed_form_type = sdk_signing_string(sdk, &call)
                    .windows(b"\nContent-Type: application/x-www-form-urlencoded".len())
                    .any(|w| w == b"\nContent-Type: application/x-www-form-urlencoded");
                if (sdk == Sdk::Node && what == "host port doubled")
                    || (signed_form_type && what == "content type set to form")
                {
                    // Sending what the SDK signed (the doubled Host,
                    // the form type): the same string, not another
                    // request. Nothing routes on the Host or the type.
                    continue;
                }
                assert_eq!(changed.verify(), Err(Rejection::BadToken), "{what}: {sdk:?} {call:?}");
            }
            // The body, wherever the SDK signed it.
            if body_signed(sdk, &call) {
                let mut changed = arrival.clone();
                changed.body = changed.body.to_ascii_uppercase();
                assert_eq!(changed.verify(), Err(Rejection::BadToken), "body: {sdk:?} {call:?}");
                changed.body = arrival.body[..arrival.body.len() - 1].to_vec();
                assert_eq!(changed.verify(), Err(Rejection::BadToken), "body cut: {sdk:?} {call:?}");
            }
            // Another secret, same AK.
            let forged = arrival_signed_with(sdk, &call, "wrong-secret");
            assert_eq!(forged.verify(), Err(Rejection::BadToken), "secret: {sdk:?} {call:?}");
        }
    }
}

#[test]
fn a_body_sent_without_a_content_type_is_bound_in_the_defaulted_form() {
    // Node and Go sign the defaulted form type and the body.
    let call = call("POST", "/server/user/register", None, r#"{"user_id":"u"}"#);
    for sdk in [Sdk::Node, Sdk::Go] {
        assert!(body_signed(sdk, &call));
        let mut changed = arrival(sdk, &call);
        changed.body = br#"{"user_id":"v"}"#.to_vec();
        assert_eq!(changed.verify(), Err(Rejection::BadToken), "{sdk:?}");
    }
    // The form-typed string without the body is not accepted.
    let mut unsigned_body = call.clone();
    unsigned_body.content_type = Some("application/octet-stream".into());
    let data = sdk_signing_string(Sdk::Node, &unsigned_body)
        .split(|&b| b == b'\n')
        .map(|line| {
            if line == b"Content-Type: application/octet-stream" {
                &b"Content-Type: application/x-www-form-urlencoded"[..]
            } else {
                line
            }
        })
        .collect::<Vec<_>>()
        .join(&b'\n');
    let mut arrival = arrival(Sdk::Node, &call);
    arrival.headers.insert(
        "authorization",
        HeaderValue::from_str(&hmac_token(AK, SK, &data)).unwrap(),
    );
    assert_eq!(arrival.verify(), Err(Rejection::BadToken));
}

/// Go SDK test vectors, built by the rules of go-sdk `auth/credentials.go`
/// `collectDataV2`: `req.Method + " " + req.URL.Path` (percent-decoded),
/// `"?" + req.URL.RawQuery` if any, `"\nHost: " + req.Host`,
/// `"\nContent-Type: "` + the header, defaulted to (and then also sent
/// as) `application/x-www-form-urlencoded`, the `X-Qiniu-*` headers
/// canonicalised and sorted, `"\n\n"`, and the body only when the
/// Content-Type is exactly `application/json` or form (`incBodyV2`).
#[test]
fn go_sdk_vectors_verify_as_they_arrive() {
    let vectors = [
        (
            call("GET", "/server/user/info/%E5%BC%A0%20%E4%B8%89", None, ""),
            "GET /server/user/info/张 三\nHost: 127.0.0.1:9000\nContent-Type: application/x-www-form-urlencoded\n",
        ),
        (
            call("GET", "/server/user/profile/a%20b", None, ""),
            "GET /server/user/profile/a b\nHost: 127.0.0.1:9000\nContent-Type: application/x-www-form-urlencoded\n",
        ),
        (
            call(
                "POST",
                "/server/user/register",
                Some("application/json"),
                r#"{"user_id":"张 三"}"#,
            ),
            "POST /server/user/register\nHost: 127.0.0.1:9000\nContent-Type: application/json\n",
        ),
        (
            call(
                "PUT",
                "/server/user/%E5%BC%A0%20%E4%B8%89",
                Some("application/json"),
                r#"{"nick":"n"}"#,
            ),
            "PUT /server/user/张 三\nHost: 127.0.0.1:9000\nContent-Type: application/json\n",
        ),
        (
            call(
                "GET",
                "/server/user/infos?user_ids=%E5%BC%A0&user_ids=a%20b&user_ids=%E5%BC%A0",
                None,
                "",
            ),
            "GET /server/user/infos?user_ids=%E5%BC%A0&user_ids=a%20b&user_ids=%E5%BC%A0\nHost: 127.0.0.1:9000\n\
             Content-Type: application/x-www-form-urlencoded\n",
        ),
        (
            call("GET", "/server/user/info/a%2Fb", None, ""),
            "GET /server/user/info/a/b\nHost: 127.0.0.1:9000\nContent-Type: application/x-www-form-urlencoded\n",
        ),
    ];
    for (call, expected_start) in vectors {
        let data = sdk_signing_string(Sdk::Go, &call);
        let text = String::from_utf8(data.clone()).unwrap();
        assert!(text.starts_with(expected_start), "{text:?}");
        let date = &call.qiniu_headers[0].1;
        let expected_end = format!("\nX-Qiniu-Date: {date}\n\n{}", String::from_utf8_lossy(&call.body));
        assert!(text.ends_with(&expected_end), "{text:?}");

        let arrival = arrival(Sdk::Go, &call);
        assert_eq!(
            arrival.headers.get("content-type").unwrap().as_bytes(),
            call.content_type
                .as_deref()
                .unwrap_or("application/x-www-form-urlencoded")
                .as_bytes(),
            "Go sends the type it signed"
        );
        assert_eq!(arrival.verify(), Ok(()), "{text:?}");
        // Go's string is among the candidates, after the as-sent one.
        let candidates = arrival.candidates();
        let position = candidates.iter().position(|c| *c == data).unwrap();
        assert!(position > 0 || !call.path.contains('%'), "{text:?}");
    }
}

#[test]
fn go_does_not_sign_the_body_of_other_types_so_such_requests_stay_refused() {
    // `incBodyV2`: only exactly JSON or form. The service binds the body
    // of every other type, so a Go client must use exactly
    // `application/json` (docs/CLIENTS.md).
    let call = call(
        "POST",
        "/server/user/register",
        Some("application/json; charset=utf-8"),
        r#"{"user_id":"u"}"#,
    );
    assert!(!body_signed(Sdk::Go, &call));
    assert_eq!(arrival(Sdk::Go, &call).verify(), Err(Rejection::BadToken));
}

#[test]
fn a_decoded_path_is_refused_where_it_could_mean_another_request() {
    // A Python signature for user 张 does not open user "%E5%BC%A0".
    let python = arrival(Sdk::Python, &call("GET", "/server/user/info/%E5%BC%A0", None, ""));
    let mut double_encoded = python.clone();
    double_encoded.path = "/server/user/info/%25E5%25BC%25A0".into();
    assert_eq!(double_encoded.verify(), Err(Rejection::BadToken));

    // An update signed with a query does not update user "u?a=1".
    let with_query = arrival(
        Sdk::Python,
        &call("PUT", "/server/user/u?a=1", Some("application/json"), "{}"),
    );
    let mut escaped = with_query.clone();
    escaped.path = "/server/user/u%3Fa=1".into();
    escaped.query.clear();
    assert_eq!(escaped.verify(), Err(Rejection::BadToken));

    // So a Go client cannot use ids that decode to `?`, a control
    // character, or text that still holds an escape.
    for path in [
        "/server/user/info/a%3Fb",
        "/server/user/info/a%0Ab",
        "/server/user/info/%2541",
    ] {
        let go = arrival(Sdk::Go, &call("GET", path, None, ""));
        assert_eq!(go.verify(), Err(Rejection::BadToken), "{path}");
        assert_eq!(go_decoded_path(path), None, "{path}");
    }
    assert_eq!(
        go_decoded_path("/server/user/info/100%25").unwrap(),
        b"/server/user/info/100%"
    );
    assert_eq!(
        go_decoded_path("/server/user/info/%E5%BC%A0").unwrap(),
        "/server/user/info/张".as_bytes()
    );
    // Invalid escapes stay as they are, as the router reads them.
    assert_eq!(go_decoded_path("/a%zz%41").unwrap(), b"/a%zzA");
    assert_eq!(go_decoded_path("/a%zz"), None);
}

#[test]
fn an_escaped_slash_is_signed_over_the_path_it_decodes_to() {
    // The only cross-route case (see `go_decoded_path`): a signature over
    // `/server/user/info/a/b`, a path that routes nowhere, is accepted
    // for the request for user `a/b`, which is what it decodes to and
    // what Go clients sign for that user.
    let python_unescaped = arrival(Sdk::Python, &call("GET", "/server/user/info/a/b", None, ""));
    let mut escaped = python_unescaped.clone();
    escaped.path = "/server/user/info/a%2Fb".into();
    assert_eq!(escaped.verify(), Ok(()));
    assert_eq!(
        arrival(Sdk::Go, &call("GET", "/server/user/info/a%2Fb", None, "")).verify(),
        Ok(())
    );
    // Escaping another character differently decodes to the same
    // string, and names the same user (or, for a literal segment like
    // `%69nfo`, no route at all).
    let python = arrival(Sdk::Python, &call("GET", "/server/user/info/ab", None, ""));
    for same_decoding in ["/server/user/info/%61b", "/server/user/%69nfo/ab"] {
        let mut escaped = python.clone();
        escaped.path = same_decoding.into();
        assert_eq!(escaped.verify(), Ok(()), "{same_decoding}");
    }
}

#[test]
fn the_host_port_is_doubled_only_when_there_is_a_port() {
    assert_eq!(
        node_doubled_port_host(b"127.0.0.1:9000").unwrap(),
        b"127.0.0.1:9000:9000"
    );
    assert_eq!(node_doubled_port_host(b"[::1]:9000").unwrap(), b"[::1]:9000:9000");
    for no_port in ["api.example.com", "[::1]", "::1", "h:", ":80", "h:8a", ""] {
        assert_eq!(node_doubled_port_host(no_port.as_bytes()), None, "{no_port}");
    }
}

fn plain(method: &str, path: &str, content_type: Option<&str>, body: &str, host: &str) -> Call {
    let mut c = call(method, path, content_type, body);
    c.host = host.into();
    c
}

#[test]
fn an_ascii_request_with_a_content_type_costs_one_hmac() {
    let json = Some("application/json");
    for call in [
        plain(
            "POST",
            "/server/user/register",
            json,
            r#"{"user_id":"u1"}"#,
            "api.example.com",
        ),
        plain("GET", "/server/user/info/u1", json, "", "api.example.com"),
        plain(
            "GET",
            "/server/user/infos?user_ids=a&user_ids=b",
            json,
            "",
            "abc.execute-api.us-east-1.amazonaws.com",
        ),
    ] {
        let python = arrival(Sdk::Python, &call);
        assert_eq!(python.candidates().len(), 1, "{call:?}");
        assert_eq!(
            python.hmacs(),
            SignatureCheck {
                authentic: true,
                hmacs: 1
            }
        );
        let wrong = arrival_signed_with(Sdk::Python, &call, "wrong");
        assert_eq!(
            wrong.hmacs(),
            SignatureCheck {
                authentic: false,
                hmacs: 1
            }
        );
    }
}

#[test]
fn each_distinct_form_costs_one_hmac() {
    // Python signs the first form; with a port, Node the second.
    let json = plain(
        "POST",
        "/server/user/register",
        Some("application/json"),
        "{}",
        "127.0.0.1:9000",
    );
    assert_eq!(arrival(Sdk::Python, &json).candidates().len(), 2);
    assert_eq!(
        arrival(Sdk::Python, &json).hmacs(),
        SignatureCheck {
            authentic: true,
            hmacs: 1
        }
    );
    assert_eq!(
        arrival(Sdk::Node, &json).hmacs(),
        SignatureCheck {
            authentic: true,
            hmacs: 2
        }
    );

    // An id that needs escaping, no content type, a port: 2 paths x 2
    // hosts x 2 content types, all distinct, each tried once.
    let get = plain("GET", "/server/user/info/%E5%BC%A0", None, "", "127.0.0.1:9000");
    let candidates = arrival(Sdk::Python, &get).candidates();
    assert_eq!(candidates.len(), 8);
    for (i, a) in candidates.iter().enumerate() {
        assert!(candidates[i + 1..].iter().all(|b| a != b));
    }
    for sdk in SDKS {
        let arrival = arrival(sdk, &get);
        let check = arrival.hmacs();
        assert!(check.authentic && check.hmacs <= 8, "{sdk:?} {check:?}");
    }
    // Go sends the form type, so it is back to 2 paths x 2 hosts.
    assert_eq!(arrival(Sdk::Go, &get).candidates().len(), 4);
    let wrong = arrival_signed_with(Sdk::Python, &get, "wrong");
    assert_eq!(
        wrong.hmacs(),
        SignatureCheck {
            authentic: false,
            hmacs: 8
        }
    );

    // The same path twice, or a decoded form equal to the path, is
    // hashed once.
    let ascii = arrival(
        Sdk::Python,
        &plain("GET", "/server/user/info/a%zz", Some("text/plain"), "", "h"),
    );
    let twice = [ascii.path.clone(), ascii.path.clone()];
    assert_eq!(signing_candidates(&ascii.signed(&twice)).len(), 1);
    assert_eq!(
        ascii.hmacs(),
        SignatureCheck {
            authentic: true,
            hmacs: 1
        }
    );

    // A signature that cannot be an HMAC-SHA1 costs none.
    let short = ascii.clone().with_header("authorization", &format!("Qiniu {AK}:AAAA"));
    assert_eq!(
        short.hmacs(),
        SignatureCheck {
            authentic: false,
            hmacs: 0
        }
    );
    assert_eq!(short.verify(), Err(Rejection::BadToken));
}

#[test]
fn the_as_sent_form_is_the_contract_string() {
    let call = plain("GET", "/server/user/info/%E5%BC%A0", None, "", "127.0.0.1:9000");
    let arrival = arrival(Sdk::Python, &call);
    let paths = [arrival.path.clone()];
    let signed = arrival.signed(&paths);
    assert_eq!(
        signing_candidates(&signed)[0],
        signing_data(signed.method, &arrival.path, signed.query, signed.headers, signed.body)
    );
    assert_eq!(signing_candidates(&signed)[0], sdk_signing_string(Sdk::Python, &call));
}
