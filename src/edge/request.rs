//! What the edge reads off every request before routing it: its id, its
//! time budget, and its path as routed and as the client may have signed it.

use super::routes::BASE_PATH;
use lambda_http::request::RequestContext;
use lambda_http::{Request, RequestExt};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

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
            let now_ms = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_millis() as u64);
            Duration::from_millis(deadline_ms.saturating_sub(now_ms)).saturating_sub(REPLY_MARGIN)
        }
        None => DEFAULT_BUDGET,
    };
    // Lambda allows at most 15 minutes; a larger value is not a deadline.
    started
        .checked_add(remaining.min(MAX_BUDGET))
        .unwrap_or(started + DEFAULT_BUDGET)
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
