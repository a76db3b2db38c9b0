//! The contract's reply: `{"request_id", "code", "message", "data"?}` as
//! JSON, with the request id also in `X-Reqid`. Every request ends here,
//! so this is where a failure's hidden detail is logged, once.

use super::error::ApiError;
use crate::telemetry::ErrorChain;
use lambda_http::http::{header, HeaderValue, StatusCode};
use lambda_http::{Body, Response};
use serde::Serialize;
use serde_json::value::RawValue;
use std::borrow::Cow;

/// The `data` of a successful reply, already serialized (field order kept).
pub type Data = Option<Box<RawValue>>;

/// In the field order the original document shows.
#[derive(Serialize)]
struct Envelope<'a> {
    request_id: &'a str,
    code: u32,
    message: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    data: Option<&'a RawValue>,
}

/// The reply for `result`. An error's source (what the client is not told)
/// goes to the log here: a 500 or 503 without a log line cannot happen.
pub fn reply(request_id: &str, result: &Result<Data, ApiError>) -> Response<Body> {
    let (status, code, message, data, allow) = match result {
        Ok(data) => (StatusCode::OK, 0, Cow::Borrowed("success"), data.as_deref(), None),
        Err(error) => {
            log_cause(error);
            let allow = match error {
                ApiError::MethodNotAllowed(allow) => Some(*allow),
                _ => None,
            };
            (error.status(), error.code(), Cow::Owned(error.to_string()), None, allow)
        }
    };
    let envelope = Envelope {
        request_id,
        code,
        message: &message,
        data,
    };
    // Serializing strings, numbers and already-valid raw JSON cannot fail;
    // the fallback is there so that no path can panic.
    let body = serde_json::to_string(&envelope)
        .unwrap_or_else(|_| r#"{"request_id":"","code":500,"message":"internal error"}"#.to_owned());
    let mut response = Response::new(Body::Text(body));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    if let Ok(value) = HeaderValue::from_str(request_id) {
        headers.insert("x-reqid", value);
    }
    if let Some(allow) = allow {
        headers.insert(header::ALLOW, HeaderValue::from_static(allow));
    }
    response
}

fn log_cause(error: &ApiError) {
    match error {
        ApiError::Internal(_) => tracing::error!(error = %ErrorChain(error), "internal error"),
        ApiError::DatabaseUnavailable(_) => tracing::warn!(error = %ErrorChain(error), "database unavailable"),
        ApiError::KeysUnavailable => tracing::warn!(
            "authentication unavailable: the Qiniu keys have not been read yet (see the \"could not read\" line)"
        ),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    fn body(response: &Response<Body>) -> &str {
        match response.body() {
            Body::Text(text) => text,
            _ => panic!("a text body"),
        }
    }

    /// What `reply` logs for `error`, at every level.
    fn logged(error: ApiError) -> String {
        let lines = Arc::new(Mutex::new(Vec::new()));
        let writer = {
            let lines = lines.clone();
            move || Captured(lines.clone())
        };
        let subscriber = tracing_subscriber::fmt()
            .with_writer(writer)
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .finish();
        tracing::subscriber::with_default(subscriber, || reply("r", &Err(error)));
        let text = String::from_utf8(lines.lock().unwrap().clone()).unwrap();
        text
    }

    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Captured {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn the_hidden_cause_of_a_500_or_503_is_logged_once_and_nothing_else_is() {
        let internal = logged(ApiError::Internal("table qnlive-x missing".into()));
        assert!(internal.contains("ERROR"), "{internal}");
        assert_eq!(
            internal.matches("internal error: table qnlive-x missing").count(),
            1,
            "{internal}"
        );
        let unavailable = logged(ApiError::DatabaseUnavailable("throttled".into()));
        assert!(unavailable.contains("WARN"), "{unavailable}");
        assert_eq!(
            unavailable.matches("database unavailable: throttled").count(),
            1,
            "{unavailable}"
        );
        // No cause to chain: the line says where the cause was logged.
        let keys = logged(ApiError::KeysUnavailable);
        assert!(keys.contains("WARN"), "{keys}");
        assert_eq!(keys.matches("authentication unavailable").count(), 1, "{keys}");
        for quiet in [
            ApiError::bad_request("nick: x"),
            ApiError::BadToken,
            ApiError::UserNotFound,
        ] {
            assert_eq!(logged(quiet), "");
        }
    }

    #[test]
    fn success_carries_data_in_the_documents_field_order() {
        let data = RawValue::from_string(r#"{"b":1,"a":2}"#.into()).unwrap();
        let response = reply("req-1", &Ok(Some(data)));
        assert_eq!(response.status(), 200);
        assert_eq!(
            body(&response),
            r#"{"request_id":"req-1","code":0,"message":"success","data":{"b":1,"a":2}}"#
        );
        assert_eq!(response.headers()["x-reqid"], "req-1");
        assert_eq!(response.headers()["content-type"], "application/json");
    }

    #[test]
    fn errors_carry_no_data_and_405_says_what_is_allowed() {
        let response = reply("r", &Err(ApiError::MethodNotAllowed("GET, PUT")));
        assert_eq!(response.status(), 405);
        assert_eq!(
            body(&response),
            r#"{"request_id":"r","code":405,"message":"method not allowed"}"#
        );
        assert_eq!(response.headers()["allow"], "GET, PUT");
    }

    #[test]
    fn internal_details_never_reach_the_client() {
        let response = reply("r", &Err(ApiError::Internal("table qnlive-secret-name missing".into())));
        assert_eq!(response.status(), 500);
        assert!(!body(&response).contains("qnlive-secret-name"));
    }
}
