//! Serving the app on the Lambda runtime.
//!
//! lambda_http turns API Gateway events into `http::Request`s, but it panics
//! (and the client gets API Gateway's bare 500) when the raw query or path
//! cannot be an `http::Uri` (a space, `"`, `<`, more than 64 KiB) or the
//! `Host` header is not a host name. Those parts come straight from clients,
//! so each event is checked first: a query or path that would not parse is
//! set aside and the request answered with a 400 in the envelope.
//!
//! `Adapter` and `LambdaRequest` are lambda_http's own (public, if hidden
//! from its docs) pieces of `lambda_http::run`, used here unchanged.

use crate::App;
use lambda_http::request::LambdaRequest;
use lambda_http::{service_fn, Adapter, Error, LambdaEvent, Service};
use std::convert::Infallible;

/// Set on a request whose raw query or path had to be set aside; the app
/// answers it with 400. Clients that send it themselves get that 400 too.
pub const REJECTED_PART_HEADER: &str = "x-qnlive-rejected-part";

/// `http::Uri` holds at most this many bytes of path and query.
const MAX_URI_BYTES: usize = 60 * 1024;

/// Runs the app until the Lambda runtime stops.
pub async fn run(app: &'static App) -> Result<(), Error> {
    let handler = service_fn(move |request| async move { Ok::<_, Infallible>(app.handle(request).await) });
    let adapter = Adapter::from(handler);
    lambda_http::lambda_runtime::run(service_fn(move |mut event: LambdaEvent<LambdaRequest>| {
        make_parseable(&mut event.payload);
        adapter.clone().call(event)
    }))
    .await
}

/// Sets aside what lambda_http cannot parse, in place (see the module).
pub fn make_parseable(event: &mut LambdaRequest) {
    match event {
        LambdaRequest::ApiGatewayV2(request) => {
            let query = request.raw_query_string.as_deref().unwrap_or_default();
            let path = request.raw_path.as_deref().unwrap_or_default();
            let rejected = if !query.bytes().all(is_query_byte) || path.len() + query.len() > MAX_URI_BYTES {
                request.raw_query_string = None;
                Some("query")
            } else if !path.starts_with('/') || path.len() > MAX_URI_BYTES {
                request.raw_path = Some("/".into());
                Some("path")
            } else {
                None
            };
            mark(&mut request.headers, rejected);
            drop_unusable_host(&mut request.headers);
        }
        LambdaRequest::ApiGatewayV1(request) => {
            let path = request.path.as_deref().unwrap_or_default();
            let rejected = (!path.starts_with('/') || path.len() > MAX_URI_BYTES).then(|| {
                request.path = Some("/".into());
                "path"
            });
            mark(&mut request.headers, rejected);
            mark(&mut request.multi_value_headers, rejected);
            drop_unusable_host(&mut request.headers);
            drop_unusable_host(&mut request.multi_value_headers);
        }
        _ => {}
    }
}

fn mark(headers: &mut lambda_http::http::HeaderMap, rejected: Option<&'static str>) {
    if let Some(part) = rejected {
        headers.insert(REJECTED_PART_HEADER, lambda_http::http::HeaderValue::from_static(part));
    }
}

/// A `Host` lambda_http could not put in a URL is removed; the signature,
/// which covers the Host, then fails as it should.
fn drop_unusable_host(headers: &mut lambda_http::http::HeaderMap) {
    let usable = headers.get("host").is_none_or(|host| {
        !host.is_empty()
            && host
                .as_bytes()
                .iter()
                .all(|b| b.is_ascii_alphanumeric() || b".-:[]_".contains(b))
    });
    if !usable {
        headers.remove("host");
    }
}

/// The bytes `http::Uri` accepts in a query: RFC 3986 query characters, and
/// `%` for escapes.
fn is_query_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:@/?%".contains(&b)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn v2_event(raw_path: &str, raw_query: &str, host: &str) -> LambdaRequest {
        let event = json!({
            "version": "2.0", "routeKey": "$default", "rawPath": raw_path, "rawQueryString": raw_query,
            "headers": {"host": host},
            "requestContext": {"accountId": "1", "apiId": "a", "domainName": "d", "domainPrefix": "d",
                "http": {"method": "GET", "path": raw_path, "protocol": "HTTP/1.1", "sourceIp": "1.1.1.1", "userAgent": "t"},
                "requestId": "r", "routeKey": "$default", "stage": "$default", "time": "t", "timeEpoch": 0},
            "isBase64Encoded": false
        });
        serde_json::from_value(event).unwrap()
    }

    fn converts(event: LambdaRequest) -> lambda_http::Request {
        std::panic::catch_unwind(|| lambda_http::Request::from(event)).expect("lambda_http converts it")
    }

    #[test]
    fn queries_http_cannot_hold_are_set_aside_and_marked() {
        for query in ["a=\"b\"", "a=<b>", "a=b c", "a=\u{7f}", "a=用", &"a".repeat(70 * 1024)] {
            let mut event = v2_event("/server/user/infos", query, "h");
            make_parseable(&mut event);
            let request = converts(event);
            assert_eq!(request.headers()[REJECTED_PART_HEADER], "query", "{query:?}");
            assert_eq!(request.uri().query(), None);
        }
    }

    #[test]
    fn ordinary_requests_are_left_alone() {
        let mut event = v2_event(
            "/server/user/info/a%20b",
            "user_ids=a&user_ids=b%22",
            "api.example.com:9000",
        );
        make_parseable(&mut event);
        let request = converts(event);
        assert!(request.headers().get(REJECTED_PART_HEADER).is_none());
        assert_eq!(request.uri().query(), Some("user_ids=a&user_ids=b%22"));
        assert_eq!(request.headers()["host"], "api.example.com:9000");
    }

    #[test]
    fn a_host_that_is_not_a_host_is_dropped() {
        let mut event = v2_event("/server/user/infos", "", "bad host/");
        make_parseable(&mut event);
        assert!(converts(event).headers().get("host").is_none());
    }

    #[test]
    fn lambda_http_really_panics_without_this() {
        // When this fails, lambda_http has been fixed and this module can go.
        let unguarded = v2_event("/server/user/infos", "a=\"b\"", "h");
        assert!(std::panic::catch_unwind(|| lambda_http::Request::from(unguarded)).is_err());
    }
}
