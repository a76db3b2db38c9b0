//! What the edge reads off every request before routing it: its id, its
//! time budget, and its path as routed and as the client may have signed it.

use super::routes::BASE_PATH;
use lambda_http::request::RequestContext;
use lambda_http::{Request, RequestExt};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::time::Instant;

/// Time kept back from the Lambda deadline to serialize and send the reply.
pub const REPLY_MARGIN: Duration = Duration::from_millis(500);
/// The request budget when there is no Lambda deadline (tests, tools): the
/// template's 10 s timeout minus the margin.
pub const DEFAULT_BUDGET: Duration = Duration::from_millis(9_500);
/// Lambda's longest timeout.
const MAX_BUDGET: Duration = Duration::from_secs(900);

/// The longest caller-chosen request id kept.
const MAX_CALLER_REQUEST_ID_CHARS: usize = 64;

/// The request's id in replies and logs: the caller's `X-Reqid` when it is
/// sane (the Qiniu convention, which the original service followed, so
/// that the caller's logs and ours can be joined), else the API Gateway
/// request id, else the Lambda request id.
pub fn request_id(request: &Request) -> String {
    if let Some(caller_id) = request
        .headers()
        .get("x-reqid")
        .and_then(|v| v.to_str().ok())
        .filter(|id| is_sane_request_id(id))
    {
        return caller_id.to_owned();
    }
    let gateway_id = match request.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(context)) => context.request_id.clone(),
        Some(RequestContext::ApiGatewayV1(context)) => context.request_id.clone(),
        _ => None,
    };
    gateway_id
        .filter(|id| !id.is_empty())
        .or_else(|| request.lambda_context_ref().map(|context| context.request_id.clone()))
        .unwrap_or_default()
}

/// 1..=64 printable ASCII characters without spaces: safe in a header, a
/// log line and a JSON string as they are.
fn is_sane_request_id(id: &str) -> bool {
    (1..=MAX_CALLER_REQUEST_ID_CHARS).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_graphic())
}

/// When this request must be answered: the Lambda deadline less the time
/// to reply, or [`DEFAULT_BUDGET`] from `started` outside Lambda.
pub fn budget_end(request: &Request, started: Instant) -> Instant {
    // Lambda sends Unix time in ms; `cargo lambda watch` sends a duration
    // (600000), which is not a deadline and is ignored.
    const YEAR_2001_MS: u64 = 978_307_200_000;
    let lambda_deadline = request
        .lambda_context_ref()
        .map(|context| context.deadline)
        .filter(|deadline| *deadline > YEAR_2001_MS);
    let remaining = match lambda_deadline {
        Some(deadline_ms) => {
            Duration::from_millis(deadline_ms.saturating_sub(unix_millis())).saturating_sub(REPLY_MARGIN)
        }
        None => DEFAULT_BUDGET,
    };
    // Lambda allows at most 15 minutes; a larger value is not a deadline
    // (and the cap keeps the sum far from overflowing an Instant).
    started + remaining.min(MAX_BUDGET)
}

/// Now as Unix time in milliseconds, the clock of Lambda's deadline and of
/// the metrics line's timestamp.
pub(super) fn unix_millis() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// The request's path in its two roles: as routed, and in every form the
/// client may have signed.
pub struct RequestPath {
    /// Without the API Gateway stage (`/prod/...`) and without a
    /// configured custom-domain prefix: what the routes match.
    pub routed: String,
    /// Every form the client may have signed, each once: as received,
    /// as routed, with the stage, behind the custom-domain prefix.
    pub signed_forms: Vec<String>,
}

impl RequestPath {
    pub fn of(request: &Request, path_prefix: Option<&str>) -> Self {
        // As API Gateway passed it: still percent-encoded.
        let received = request.raw_http_path().to_owned();
        let stage = stage(request);
        let without_stage = match &stage {
            Some(stage) => strip_segment_prefix(&received, &format!("/{stage}")),
            None => &received,
        };
        // API Gateway normally strips the mapping key already; strip it
        // only where it is still there, never from the API's own paths.
        let routed = match path_prefix {
            Some(prefix) if !without_stage.starts_with(BASE_PATH) => strip_segment_prefix(without_stage, prefix),
            _ => without_stage,
        }
        .to_owned();

        let mut signed_forms = vec![received.clone()];
        let other_forms = [
            Some(routed.clone()),
            stage.map(|stage| format!("/{stage}{routed}")),
            path_prefix.map(|prefix| format!("{prefix}{routed}")),
        ];
        // Each form once: every form costs an HMAC.
        for form in other_forms.into_iter().flatten() {
            if !signed_forms.contains(&form) {
                signed_forms.push(form);
            }
        }
        RequestPath { routed, signed_forms }
    }
}

/// The API Gateway stage when it is a named one (`$default` adds nothing to
/// the path).
fn stage(request: &Request) -> Option<String> {
    let stage = match request.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(context)) => context.stage.clone(),
        Some(RequestContext::ApiGatewayV1(context)) => context.stage.clone(),
        _ => None,
    };
    stage.filter(|s| !s.is_empty() && s != "$default")
}

/// `/prod/server/user` without `/prod` → `/server/user`; only whole
/// segments are stripped.
fn strip_segment_prefix<'a>(path: &'a str, prefix: &str) -> &'a str {
    match path.strip_prefix(prefix) {
        Some(rest) if rest.starts_with('/') => rest,
        _ => path,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lambda_http::Context;
    use qnlive_test_support::event::HttpApiEvent;

    fn request(event: &HttpApiEvent) -> Request {
        lambda_http::request::from_str(&event.to_json().to_string()).unwrap()
    }

    /// A REST API (payload 1.0) event: its path comes without the stage.
    fn rest_request(path: &str, stage: &str, request_id: &str) -> Request {
        let event = serde_json::json!({
            "resource": "/{proxy+}",
            "path": path,
            "httpMethod": "GET",
            "headers": {},
            "multiValueHeaders": {},
            "queryStringParameters": null,
            "multiValueQueryStringParameters": null,
            "pathParameters": null,
            "stageVariables": null,
            "requestContext": {
                "accountId": "123456789012",
                "resourceId": "r",
                "stage": stage,
                "requestId": request_id,
                "identity": {"sourceIp": "127.0.0.1"},
                "resourcePath": "/{proxy+}",
                "httpMethod": "GET",
                "apiId": "api",
                "path": format!("/{stage}{path}")
            },
            "body": null,
            "isBase64Encoded": false
        });
        lambda_http::request::from_str(&event.to_string()).unwrap()
    }

    fn in_lambda(request: Request, request_id: &str, deadline: u64) -> Request {
        let mut context = Context::default();
        context.request_id = request_id.into();
        context.deadline = deadline;
        request.with_lambda_context(context)
    }

    fn now_ms() -> u64 {
        SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as u64
    }

    #[test]
    fn the_request_id_is_the_callers_then_api_gateways_then_lambdas() {
        let event = HttpApiEvent::new("GET", "/server/user/infos").request_id("gw-1");
        assert_eq!(
            request_id(&request(&event.clone().header("X-Reqid", "caller-1"))),
            "caller-1"
        );
        assert_eq!(
            request_id(&request(&event.clone().header("X-Reqid", "not sane"))),
            "gw-1",
            "an insane caller id is ignored"
        );
        assert_eq!(request_id(&in_lambda(request(&event), "lambda-1", 0)), "gw-1");
        assert_eq!(
            request_id(&rest_request("/server/user/infos", "prod", "rest-1")),
            "rest-1"
        );
        let no_gateway_id = HttpApiEvent::new("GET", "/server/user/infos").request_id("");
        assert_eq!(
            request_id(&in_lambda(request(&no_gateway_id), "lambda-2", 0)),
            "lambda-2"
        );
        assert_eq!(request_id(&request(&no_gateway_id)), "");
    }

    #[test]
    fn the_budget_is_the_lambda_deadline_less_the_reply_margin() {
        let event = HttpApiEvent::new("GET", "/server/user/infos");
        let started = Instant::now();
        let deadline = now_ms() + 3_000;
        let budget = budget_end(&in_lambda(request(&event), "l", deadline), started) - started;
        assert!(
            budget <= Duration::from_millis(2_500) && budget >= Duration::from_millis(2_300),
            "{budget:?}"
        );
        // A deadline already past leaves no time at all.
        let past = budget_end(&in_lambda(request(&event), "l", now_ms() - 1_000), started);
        assert_eq!(past, started);
        // Lambda allows 15 minutes at most; more is not a deadline.
        let far = budget_end(&in_lambda(request(&event), "l", now_ms() + 2_000_000), started);
        assert_eq!(far - started, MAX_BUDGET);
    }

    #[test]
    fn without_a_lambda_deadline_the_budget_is_the_default() {
        let event = HttpApiEvent::new("GET", "/server/user/infos");
        let started = Instant::now();
        assert_eq!(budget_end(&request(&event), started) - started, DEFAULT_BUDGET);
        // `cargo lambda watch` sends a duration, not a time; so is anything
        // up to the start of 2001.
        for not_a_time in [600_000, 978_307_200_000] {
            let watched = in_lambda(request(&event), "l", not_a_time);
            assert_eq!(budget_end(&watched, started) - started, DEFAULT_BUDGET, "{not_a_time}");
        }
    }

    #[test]
    fn a_named_stage_is_routed_without_and_signed_with_or_without() {
        let event = HttpApiEvent::new("GET", "/prod/server/user/info/a").stage("prod");
        let path = RequestPath::of(&request(&event), None);
        assert_eq!(path.routed, "/server/user/info/a");
        assert_eq!(path.signed_forms, ["/prod/server/user/info/a", "/server/user/info/a"]);
        // A REST API passes the path without its stage.
        let path = RequestPath::of(&rest_request("/server/user/info/a", "prod", "r"), None);
        assert_eq!(path.routed, "/server/user/info/a");
        assert_eq!(path.signed_forms, ["/server/user/info/a", "/prod/server/user/info/a"]);
    }

    #[test]
    fn the_default_stage_adds_nothing_and_each_form_is_signed_once() {
        for stage in ["$default", ""] {
            let event = HttpApiEvent::new("GET", "/server/user/info/a").stage(stage);
            let path = RequestPath::of(&request(&event), None);
            assert_eq!(path.routed, "/server/user/info/a", "{stage:?}");
            assert_eq!(path.signed_forms, ["/server/user/info/a"], "{stage:?}");
        }
    }

    #[test]
    fn a_custom_domain_prefix_is_stripped_where_still_there_and_always_signable() {
        let prefixed = HttpApiEvent::new("GET", "/users/server/user/info/a");
        let path = RequestPath::of(&request(&prefixed), Some("/users"));
        assert_eq!(path.routed, "/server/user/info/a");
        assert_eq!(path.signed_forms, ["/users/server/user/info/a", "/server/user/info/a"]);
        let stripped = HttpApiEvent::new("GET", "/server/user/info/a");
        let path = RequestPath::of(&request(&stripped), Some("/users"));
        assert_eq!(path.routed, "/server/user/info/a");
        assert_eq!(path.signed_forms, ["/server/user/info/a", "/users/server/user/info/a"]);
        // Never stripped from the API's own paths, whatever the prefix.
        let path = RequestPath::of(&request(&stripped), Some("/server"));
        assert_eq!(path.routed, "/server/user/info/a");
    }

    #[test]
    fn a_caller_request_id_is_kept_when_it_is_printable_ascii_without_spaces_up_to_64() {
        for sane in ["a", "r-1_2.3:4/5", "AbC~!@#$%^&*()[]{}", &"x".repeat(64)] {
            assert!(is_sane_request_id(sane), "{sane:?}");
        }
        for insane in ["", "has space", "tab\t", "用户", "nul\0", "del\u{7f}", &"x".repeat(65)] {
            assert!(!is_sane_request_id(insane), "{insane:?}");
        }
    }

    #[test]
    fn only_whole_leading_segments_are_stripped() {
        assert_eq!(strip_segment_prefix("/prod/server/user", "/prod"), "/server/user");
        assert_eq!(
            strip_segment_prefix("/production/server", "/prod"),
            "/production/server"
        );
        assert_eq!(strip_segment_prefix("/prod", "/prod"), "/prod");
    }
}
