//! The Lanying IM ("Maxim") client: the three REST calls this service
//! makes, over the HTTPS stack the DynamoDB client already brings (hyper 1
//! with rustls on ring), each bounded in time and retried on 5xx, timeouts
//! and resets. The server it talks to is a seam: HTTPS, or in unit tests a
//! scripted Lanying IM (`scripted_maxim.rs`), so that every rule here
//! (retries, adoption, time limits) is tested without a network.
//!
//! All calls are JSON; a business error comes back as HTTP 200 with a
//! `code` other than 200. Every call carries `app_id` and the admin token,
//! as the original service sent them (registering needs no token, the two
//! admin calls do, and a wrong token is then seen at once).
//!
//! The token may come from Secrets Manager: when the IM refuses it (HTTP
//! 401 or 403, the answers its API documents for a bad `access-token`),
//! the secret is read again (at most once a minute) and the call retried
//! with the new token, so that rotating it needs no redeploy.

use crate::backoff::Backoff;
use crate::error::BoxError;
use crate::secrets::Refreshing;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Method, Request, StatusCode};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde::Deserialize;
use serde_json::{json, Value};
use std::fmt;
use std::time::Duration;
use tokio::time::Instant;

/// One attempt of one call, from sending to the whole answer.
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_millis(2_000);
/// Attempts per call: the first and two retries.
pub const MAX_ATTEMPTS: u32 = 3;
/// The pause before retry 1 and 2 is drawn from up to 100 and 200 ms: the
/// cap is never reached with three attempts.
const BACKOFF: Backoff = Backoff {
    base: Duration::from_millis(50),
    cap: Duration::from_millis(200),
};

/// The IM's codes this client acts on.
const OK: i64 = 200;
const USER_EXISTS: i64 = 10004;
/// "Server database exception": the IM's own transient failure.
const SERVER_DATABASE_EXCEPTION: i64 = 20000;

/// Where the IM is and how this service is known to it.
#[derive(Clone, Debug)]
pub struct MaximSettings {
    /// `MAXIM_API_URL`, without a trailing `/`.
    pub api_url: String,
    /// `MAXIM_APP_ID`.
    pub app_id: String,
    /// `MAXIM_ADMIN_TOKEN`, or read from `MAXIM_ADMIN_TOKEN_SECRET_ID`.
    pub admin_token: Refreshing<AdminToken>,
}

/// The IM's admin token. No `Display`, and a `Debug` that hides it, so it
/// cannot reach a log by accident.
#[derive(Clone, PartialEq, Eq)]
pub struct AdminToken(String);

impl AdminToken {
    pub fn new(token: String) -> Self {
        AdminToken(token)
    }
}

impl fmt::Debug for AdminToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AdminToken(<redacted>)")
    }
}

#[derive(Debug, thiserror::Error)]
pub enum MaximError {
    /// Unreachable, timed out, a 5xx or the IM's own database failure,
    /// after every attempt: worth trying again later.
    #[error("Lanying IM unavailable for {call}")]
    Unavailable {
        call: &'static str,
        #[source]
        source: BoxError,
    },
    /// The IM refused the call. Its message is left out: it may echo input.
    #[error("Lanying IM answered code {code} to {call}")]
    Refused { call: &'static str, code: i64 },
    /// The IM refused the admin token, also after reading it again (or the
    /// token is fixed): a wrong `MAXIM_ADMIN_TOKEN`, or a revoked token
    /// still in the secret.
    #[error("Lanying IM refused the admin token (HTTP {status}) for {call}")]
    TokenRefused { call: &'static str, status: u16 },
    /// An answer this client cannot read.
    #[error("Lanying IM gave an unreadable answer to {call}")]
    Unreadable {
        call: &'static str,
        #[source]
        source: BoxError,
    },
}

impl MaximError {
    pub fn is_unavailable(&self) -> bool {
        matches!(self, MaximError::Unavailable { .. })
    }
}

/// The IM's reply envelope.
#[derive(Deserialize)]
struct Reply {
    code: i64,
    #[serde(default)]
    data: Value,
}

/// A 5xx answer (the body, often a gateway's HTML page, is not kept).
#[derive(Debug, thiserror::Error)]
#[error("HTTP {0}")]
struct HttpStatus(StatusCode);

#[derive(Debug, thiserror::Error)]
#[error("no answer within {0:?}")]
struct NoAnswer(Duration);

#[derive(Debug, thiserror::Error)]
#[error("the IM's own database failed (code 20000)")]
struct ImDatabaseFailed;

#[derive(Debug, thiserror::Error)]
#[error("data.user_id is missing or not an integer")]
struct NoUserId;

#[derive(Debug, thiserror::Error)]
#[error("the admin token could not be read yet (Secrets Manager)")]
struct NoToken;

pub struct MaximClient {
    server: Server,
    settings: MaximSettings,
}

/// Where the client's requests go. The second variant exists only in
/// tests, where the size of the first does not matter.
#[cfg_attr(test, allow(clippy::large_enum_variant))]
enum Server {
    Https(Client<HttpsConnector<HttpConnector>, Full<Bytes>>),
    #[cfg(test)]
    Scripted(std::sync::Arc<super::scripted_maxim::ScriptedMaxim>),
}

impl Server {
    /// One request and its whole answer.
    async fn exchange(&self, request: Request<Full<Bytes>>) -> Result<(StatusCode, Bytes), BoxError> {
        match self {
            Server::Https(http) => {
                let response = http.request(request).await?;
                let status = response.status();
                let bytes = response.into_body().collect().await?.to_bytes();
                Ok((status, bytes))
            }
            #[cfg(test)]
            Server::Scripted(server) => server.answer(request).await,
        }
    }
}

impl MaximClient {
    /// Fails only if the system's trust roots cannot be loaded.
    pub fn new(settings: MaximSettings) -> std::io::Result<Self> {
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_provider_and_native_roots(rustls::crypto::ring::default_provider())?
            .https_or_http()
            .enable_http1()
            .build();
        let http = Client::builder(TokioExecutor::new()).build(connector);
        Ok(MaximClient {
            server: Server::Https(http),
            settings,
        })
    }

    /// A client of a scripted Lanying IM.
    #[cfg(test)]
    pub fn scripted(server: std::sync::Arc<super::scripted_maxim::ScriptedMaxim>) -> Self {
        MaximClient {
            server: Server::Scripted(server),
            settings: MaximSettings {
                api_url: "http://lanying.invalid".into(),
                app_id: "app".into(),
                admin_token: Refreshing::fixed("the admin token", AdminToken::new("admin-token".into())),
            },
        }
    }

    /// The same client, its admin token read by `token`.
    #[cfg(test)]
    pub fn with_admin_token(mut self, token: Refreshing<AdminToken>) -> Self {
        self.settings.admin_token = token;
        self
    }

    /// Reads the admin token if it is not in memory yet.
    pub async fn read_admin_token(&self) {
        if self.settings.admin_token.current().is_none() {
            self.settings.admin_token.refreshed().await;
        }
    }

    /// Makes `username` an IM account that logs in with `password`, and
    /// returns its IM user id: registered, or, when the IM already has the
    /// name (made by the original service, or by an earlier attempt whose
    /// answer was lost), adopted: looked up and its password set.
    pub async fn ensure_account(&self, username: &str, password: &str, end: Instant) -> Result<i64, MaximError> {
        const CALL: &str = "register";
        let body = json!({"username": username, "password": password});
        let reply = self
            .send(CALL, Method::POST, "/user/register/v2", None, Some(&body), end)
            .await?;
        match reply.code {
            OK => user_id_of(CALL, &reply),
            USER_EXISTS => {
                let user_id = self.user_id_by_name(username, end).await?;
                self.set_password(user_id, password, end).await?;
                Ok(user_id)
            }
            code => Err(MaximError::Refused { call: CALL, code }),
        }
    }

    async fn user_id_by_name(&self, username: &str, end: Instant) -> Result<i64, MaximError> {
        const CALL: &str = "roster/name";
        let query: String = form_urlencoded::Serializer::new(String::new())
            .append_pair("username", username)
            .finish();
        let path = format!("/roster/name?{query}");
        let reply = self.send(CALL, Method::GET, &path, None, None, end).await?;
        match reply.code {
            OK => user_id_of(CALL, &reply),
            code => Err(MaximError::Refused { call: CALL, code }),
        }
    }

    async fn set_password(&self, user_id: i64, password: &str, end: Instant) -> Result<(), MaximError> {
        const CALL: &str = "change_password_admin";
        let body = json!({"password": password});
        let path = "/user/change_password_admin";
        let reply = self
            .send(CALL, Method::POST, path, Some(user_id), Some(&body), end)
            .await?;
        match (reply.code, &reply.data) {
            (OK, Value::Bool(true)) => Ok(()),
            (OK, _) => Err(MaximError::Refused { call: CALL, code: OK }),
            (code, _) => Err(MaximError::Refused { call: CALL, code }),
        }
    }

    /// One call with its retries, none of them past `end`. Retried: no
    /// connection, no answer in time, a 5xx, and the IM's code 20000.
    /// Retrying a register whose first answer was lost is safe: the second
    /// attempt finds the name taken, and `ensure_account` adopts it. A
    /// refused token is read again (as the policy allows) and, if it
    /// changed, the call is sent once more with the new one.
    async fn send(
        &self,
        call: &'static str,
        method: Method,
        path_and_query: &str,
        as_user: Option<i64>,
        body: Option<&Value>,
        end: Instant,
    ) -> Result<Reply, MaximError> {
        let tokens = &self.settings.admin_token;
        let token = match tokens.current() {
            Some(token) => token,
            None => tokens.refreshed().await.ok_or_else(|| MaximError::Unavailable {
                call,
                source: Box::new(NoToken),
            })?,
        };
        let (method, sent) = (&method, (call, path_and_query, as_user, body, end));
        match self.send_with(&token, method, sent).await {
            Err(refused @ MaximError::TokenRefused { .. }) => match tokens.refreshed().await {
                Some(fresh) if fresh != token => {
                    tracing::info!(call, "Lanying IM refused the admin token; trying the one read again");
                    self.send_with(&fresh, method, sent).await
                }
                _ => Err(refused),
            },
            sent => sent,
        }
    }

    /// [`Self::send`] with one token: its arguments, as sent.
    async fn send_with(
        &self,
        token: &AdminToken,
        method: &Method,
        (call, path_and_query, as_user, body, end): (&'static str, &str, Option<i64>, Option<&Value>, Instant),
    ) -> Result<Reply, MaximError> {
        let unavailable = |source: BoxError| MaximError::Unavailable { call, source };
        let mut last_failure: BoxError = Box::new(NoAnswer(Duration::ZERO));
        for attempt in 0..MAX_ATTEMPTS {
            if attempt > 0 {
                let pause = BACKOFF.delay(attempt);
                if Instant::now() + pause >= end {
                    break;
                }
                tokio::time::sleep(pause).await;
            }
            let limit = end.saturating_duration_since(Instant::now()).min(ATTEMPT_TIMEOUT);
            if limit.is_zero() {
                break;
            }
            let request = self
                .request(method, path_and_query, token, as_user, body)
                .map_err(|e| MaximError::Unreadable { call, source: e.into() })?;
            crate::metrics::count_im_call();
            let (status, bytes) = match tokio::time::timeout(limit, self.server.exchange(request)).await {
                Err(_) => {
                    last_failure = Box::new(NoAnswer(limit));
                    continue;
                }
                Ok(Err(connection_failure)) => {
                    last_failure = connection_failure;
                    continue;
                }
                Ok(Ok(answer)) => answer,
            };
            if status.is_server_error() {
                last_failure = Box::new(HttpStatus(status));
                continue;
            }
            if matches!(status, StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN) {
                return Err(MaximError::TokenRefused {
                    call,
                    status: status.as_u16(),
                });
            }
            if !status.is_success() {
                return Err(MaximError::Unreadable {
                    call,
                    source: Box::new(HttpStatus(status)),
                });
            }
            let reply: Reply =
                serde_json::from_slice(&bytes).map_err(|e| MaximError::Unreadable { call, source: e.into() })?;
            if reply.code == SERVER_DATABASE_EXCEPTION {
                last_failure = Box::new(ImDatabaseFailed);
                continue;
            }
            return Ok(reply);
        }
        Err(unavailable(last_failure))
    }

    fn request(
        &self,
        method: &Method,
        path_and_query: &str,
        token: &AdminToken,
        as_user: Option<i64>,
        body: Option<&Value>,
    ) -> Result<Request<Full<Bytes>>, hyper::http::Error> {
        let mut request = Request::builder()
            .method(method)
            .uri(format!("{}{path_and_query}", self.settings.api_url))
            .header("app_id", &self.settings.app_id)
            .header("access-token", &token.0);
        if let Some(user_id) = as_user {
            request = request.header("user_id", user_id);
        }
        match body {
            Some(body) => request
                .header("content-type", "application/json")
                .body(Full::new(Bytes::from(body.to_string()))),
            None => request.body(Full::new(Bytes::new())),
        }
    }
}

fn user_id_of(call: &'static str, reply: &Reply) -> Result<i64, MaximError> {
    match reply.data.get("user_id").and_then(Value::as_i64) {
        Some(user_id) if user_id > 0 => Ok(user_id),
        _ => Err(MaximError::Unreadable {
            call,
            source: Box::new(NoUserId),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::super::scripted_maxim::{rotating_admin_token, Call, ScriptedMaxim};
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    /// A client that read `tokens[0]` a minute ago (so the policy allows
    /// another read), of an IM that takes only the admin token "new" and
    /// already has the account `qlann`.
    async fn client_after_rotation(
        tokens: &'static [&'static str],
    ) -> (MaximClient, Arc<ScriptedMaxim>, Arc<AtomicUsize>) {
        let lanying = ScriptedMaxim::new();
        lanying.add_account("qlann", "old password");
        lanying.script(|im| im.admin_token = Some("new".into()));
        let (token, reads) = rotating_admin_token(tokens);
        let client = MaximClient::scripted(lanying.clone()).with_admin_token(token);
        client.read_admin_token().await;
        tokio::time::advance(Duration::from_secs(61)).await;
        (client, lanying, reads)
    }

    #[tokio::test(start_paused = true)]
    async fn a_refused_admin_token_is_read_again_and_the_call_sent_with_the_new_one() {
        let (client, lanying, reads) = client_after_rotation(&["old", "new"]).await;
        let end = Instant::now() + Duration::from_secs(10);
        let user_id = client.ensure_account("qlann", "new password", end).await.unwrap();
        assert_eq!(lanying.login("qlann", "new password"), Some(user_id));
        assert_eq!(reads.load(Ordering::SeqCst), 2);
        assert_eq!(lanying.calls(Call::RosterName), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn a_refused_token_read_again_unchanged_is_not_sent_again() {
        let (client, lanying, reads) = client_after_rotation(&["old"]).await;
        let end = Instant::now() + Duration::from_secs(10);
        let result = client.ensure_account("qlann", "new password", end).await;
        assert!(
            matches!(result, Err(MaximError::TokenRefused { status: 401, .. })),
            "{result:?}"
        );
        assert_eq!(reads.load(Ordering::SeqCst), 2);
        assert_eq!(lanying.calls(Call::RosterName), 1);
    }

    #[test]
    fn the_admin_token_never_shows_in_debug_output() {
        let token = AdminToken::new("tok-9f8e7d".into());
        let settings = MaximSettings {
            api_url: "https://im.example.com".into(),
            app_id: "app".into(),
            admin_token: Refreshing::fixed("the token", token.clone()),
        };
        assert!(!format!("{settings:?}").contains("tok-9f8e7d"));
        assert_eq!(format!("{token:?}"), "AdminToken(<redacted>)");
    }

    #[test]
    fn retries_pause_up_to_100_then_200_ms() {
        assert_eq!(BACKOFF.ceiling(1), Duration::from_millis(100));
        assert_eq!(BACKOFF.ceiling(MAX_ATTEMPTS - 1), Duration::from_millis(200));
    }

    #[test]
    fn only_an_im_that_did_not_answer_is_unavailable() {
        let unavailable = MaximError::Unavailable {
            call: "register",
            source: Box::new(NoAnswer(ATTEMPT_TIMEOUT)),
        };
        assert!(unavailable.is_unavailable());
        let refused = MaximError::Refused {
            call: "register",
            code: 10008,
        };
        let unreadable = MaximError::Unreadable {
            call: "register",
            source: Box::new(NoUserId),
        };
        assert!(!refused.is_unavailable() && !unreadable.is_unavailable());
    }

    #[test]
    fn a_user_id_must_be_a_positive_integer() {
        let reply = |data: Value| Reply { code: OK, data };
        assert_eq!(
            user_id_of("c", &reply(json!({"user_id": 2_302_128_618_880i64}))).unwrap(),
            2_302_128_618_880
        );
        for bad in [json!({}), json!({"user_id": "7"}), json!({"user_id": 0}), json!(null)] {
            assert!(matches!(
                user_id_of("c", &reply(bad)),
                Err(MaximError::Unreadable { .. })
            ));
        }
    }

    #[test]
    fn refusals_name_the_call_and_code_but_nothing_the_im_said() {
        let error = MaximError::Refused {
            call: "register",
            code: 10008,
        };
        assert_eq!(error.to_string(), "Lanying IM answered code 10008 to register");
    }

    /// A client of a Lanying IM that accepts connections and never
    /// answers, on a local port.
    async fn silent_im() -> MaximClient {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let api_url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move {
            let mut open = Vec::new();
            while let Ok((socket, _)) = listener.accept().await {
                open.push(socket);
            }
        });
        MaximClient::new(MaximSettings {
            api_url,
            app_id: "app".into(),
            admin_token: Refreshing::fixed("the token", AdminToken::new("token".into())),
        })
        .unwrap()
    }

    #[tokio::test(start_paused = true)]
    async fn a_silent_im_is_tried_three_times_each_cut_at_the_attempt_timeout() {
        let client = silent_im().await;
        let started = Instant::now();
        let result = client
            .ensure_account("qlann", "pw", started + Duration::from_secs(60))
            .await;
        let took = started.elapsed();
        assert!(matches!(result, Err(MaximError::Unavailable { .. })), "{result:?}");
        // Three attempts of 2 s, and two pauses of at most 100 and 200 ms.
        let attempts = ATTEMPT_TIMEOUT * MAX_ATTEMPTS;
        assert!(
            took >= attempts && took <= attempts + Duration::from_millis(300),
            "{took:?}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_silent_im_is_given_up_at_the_end() {
        let client = silent_im().await;
        let started = Instant::now();
        let end = started + Duration::from_secs(4);
        let result = client.ensure_account("qlann", "pw", end).await;
        assert!(matches!(result, Err(MaximError::Unavailable { .. })), "{result:?}");
        assert!(Instant::now() <= end, "took {:?}", started.elapsed());
    }
}
