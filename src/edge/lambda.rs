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

use super::App;
use lambda_http::request::LambdaRequest;
use lambda_http::{service_fn, Adapter, Error, LambdaEvent, Service};
use std::convert::Infallible;

/// Set on a request whose raw query or path had to be set aside; the app
/// answers it with 400. Clients that send it themselves get that 400 too.
pub const REJECTED_PART_HEADER: &str = "x-qnlive-rejected-part";

/// `http::Uri` holds at most 64 KiB; lambda_http puts the scheme, Host and
/// stage in front and percent-encodes the path (up to 3 bytes per byte).
/// Kept well below, since API Gateway forwards at most 10 KiB anyway.
const MAX_URI_BYTES: usize = 60 * 1024;
const MAX_HOST_BYTES: usize = 255;

/// The URI length lambda_http may build from these parts, at the most.
fn worst_case_uri_len(path: &str, query: &str, stage: Option<&str>) -> usize {
    "https://".len() + MAX_HOST_BYTES + 3 * (stage.map_or(0, str::len) + 1 + path.len()) + 1 + query.len()
}

/// Runs the app until the Lambda runtime stops.
pub async fn run(app: &App) -> Result<(), Error> {
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
            let path = request.raw_path.as_deref().unwrap_or_default();
            let query = request.raw_query_string.as_deref().unwrap_or_default();
            let stage = request.request_context.stage.as_deref();
            let path_ok = path.starts_with('/') && worst_case_uri_len(path, "", stage) <= MAX_URI_BYTES;
            let query_ok = query.bytes().all(is_query_byte) && worst_case_uri_len(path, query, stage) <= MAX_URI_BYTES;
            if !query_ok {
                request.raw_query_string = None;
                mark(&mut request.headers, Some("query"));
            }
            // Checked independently of the query: both reach the URL.
            if !path_ok {
                request.raw_path = Some("/".into());
                mark(&mut request.headers, Some("path"));
            }
            drop_unusable_url_parts(&mut request.headers, &mut request.request_context.domain_name);
        }
        LambdaRequest::ApiGatewayV1(request) => {
            let path = request.path.as_deref().unwrap_or_default();
            let stage = request.request_context.stage.as_deref();
            let rejected = (!path.starts_with('/') || worst_case_uri_len(path, "", stage) > MAX_URI_BYTES).then(|| {
                request.path = Some("/".into());
                "path"
            });
            mark(&mut request.headers, rejected);
            mark(&mut request.multi_value_headers, rejected);
            drop_unusable_url_parts(&mut request.headers, &mut request.request_context.domain_name);
            drop_unusable_url_parts(
                &mut request.multi_value_headers,
                &mut request.request_context.domain_name,
            );
        }
        _ => {}
    }
}

fn mark(headers: &mut lambda_http::http::HeaderMap, rejected: Option<&'static str>) {
    if let Some(part) = rejected {
        headers.insert(REJECTED_PART_HEADER, lambda_http::http::HeaderValue::from_static(part));
    }
}

/// lambda_http builds `{X-Forwarded-Proto}://{Host or domain name}{path}`
/// and unwraps the parse. A scheme other than http(s) and a host that does
/// not parse as one are removed (the signature, which covers the Host, then
/// fails as it should).
fn drop_unusable_url_parts(headers: &mut lambda_http::http::HeaderMap, domain_name: &mut Option<String>) {
    // Exactly lambda_http's steps: `Url::parse`, then `http::Uri` from it.
    let host_parses = |host: &str| {
        host.len() <= MAX_HOST_BYTES
            && url::Url::parse(&format!("https://{host}/"))
                .is_ok_and(|url| url.host().is_some() && url.as_str().parse::<lambda_http::http::Uri>().is_ok())
    };
    let scheme_ok = headers
        .get("x-forwarded-proto")
        .is_none_or(|v| v == "https" || v == "http");
    if !scheme_ok {
        headers.remove("x-forwarded-proto");
    }
    if headers.get("host").is_some_and(|h| !h.to_str().is_ok_and(host_parses)) {
        headers.remove("host");
    }
    if domain_name.as_deref().is_some_and(|d| !host_parses(d)) {
        *domain_name = None;
    }
}

/// The bytes `http::Uri` accepts in a query (its `QUERY_MAP`): anything but
/// control characters, DEL, space, `"`, `<` and `>`. `#` is refused too:
/// http would cut the query there, and the client's signature with it.
fn is_query_byte(b: u8) -> bool {
    !(b < 0x20 || b == 0x7f || b" \"#<>".contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;
    use qnlive_test_support::event::HttpApiEvent;

    fn v2_event(raw_path: &str, raw_query: &str, host: &str) -> LambdaRequest {
        let event = HttpApiEvent::new("GET", raw_path).query(raw_query).header("host", host);
        serde_json::from_value(event.to_json()).unwrap()
    }

    fn converts(event: LambdaRequest) -> lambda_http::Request {
        std::panic::catch_unwind(|| lambda_http::Request::from(event)).expect("lambda_http converts it")
    }

    #[test]
    fn queries_http_cannot_hold_are_set_aside_and_marked() {
        for query in ["a=\"b\"", "a=<b>", "a=b c", "a=\u{7f}", "a=b#c", &"a".repeat(70 * 1024)] {
            let mut event = v2_event("/server/user/infos", query, "h");
            make_parseable(&mut event);
            let request = converts(event);
            assert_eq!(request.headers()[REJECTED_PART_HEADER], "query", "{query:?}");
            assert_eq!(request.uri().query(), None);
        }
    }

    #[test]
    fn ordinary_requests_are_left_alone() {
        let query = "user_ids=a&user_ids=b%22&user_ids=用&x={[|]}";
        let mut event = v2_event("/server/user/info/a%20b", query, "api.example.com:9000");
        make_parseable(&mut event);
        let request = converts(event);
        assert!(request.headers().get(REJECTED_PART_HEADER).is_none());
        assert_eq!(request.uri().query(), Some(query));
        assert_eq!(request.headers()["host"], "api.example.com:9000");
    }

    #[test]
    fn paths_that_grow_past_what_http_holds_once_encoded_are_set_aside() {
        let mut event = v2_event(&format!("/{}", "用".repeat(21_000)), "", "h");
        make_parseable(&mut event);
        assert_eq!(converts(event).headers()[REJECTED_PART_HEADER], "path");
    }

    #[test]
    fn a_bad_path_is_set_aside_even_when_the_query_is_bad_too() {
        // Found by `cargo fuzz` (request_parsing): a path without a leading
        // slash ran into the host part of lambda_http's URL and panicked.
        let mut event = v2_event("\u{12}\u{FFFD}", "\u{1b}", "");
        make_parseable(&mut event);
        let request = converts(event);
        assert_eq!(request.headers()[REJECTED_PART_HEADER], "path");
        assert_eq!(request.uri().path(), "/");
    }

    #[test]
    fn a_host_that_is_not_a_host_is_dropped() {
        // "]" and "\"" were found by `cargo fuzz` (request_parsing): an IDNA
        // error in lambda_http's URL, and a URL http::Uri refuses.
        for host in ["bad host/", "]", "", "\""] {
            let mut event = v2_event("/server/user/infos", "", host);
            make_parseable(&mut event);
            assert!(converts(event).headers().get("host").is_none(), "{host:?}");
        }
        for host in [
            "api.example.com",
            "127.0.0.1:9000",
            "[::1]:9000",
            "xn--a",
            "a..b",
            "a_b",
        ] {
            let mut event = v2_event("/server/user/infos", "", host);
            make_parseable(&mut event);
            converts(event);
        }
    }

    #[test]
    fn a_forwarded_scheme_other_than_http_or_https_is_dropped() {
        let mut event = v2_event("/server/user/infos", "", "h");
        if let LambdaRequest::ApiGatewayV2(request) = &mut event {
            request
                .headers
                .insert("x-forwarded-proto", "no scheme".parse().unwrap());
        }
        make_parseable(&mut event);
        assert!(converts(event).headers().get("x-forwarded-proto").is_none());
    }

    #[test]
    fn lambda_http_really_panics_without_this() {
        // When this fails, lambda_http has been fixed and this module can go.
        let unguarded = v2_event("/server/user/infos", "a=\"b\"", "h");
        assert!(std::panic::catch_unwind(|| lambda_http::Request::from(unguarded)).is_err());
    }
}
