//! A Lanying IM in memory, behind the client's server seam, for unit
//! tests: it keeps accounts as the real IM does for the three calls the
//! client makes, and a test scripts how it fails (down, 5xx, refusing,
//! late, stalled). Under tokio's paused time a late or stalled IM costs a
//! test nothing.

use crate::error::BoxError;
use crate::im::AdminToken;
use crate::secrets::{ReadPolicy, Refreshing};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Method, Request, StatusCode};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The calls the client makes, as the IM counts them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Call {
    Register,
    RosterName,
    ChangePassword,
}

/// How the IM misbehaves from now on. Counts are used up one by one.
#[derive(Clone, Debug, Default)]
pub struct Script {
    /// No connection: every call fails as a refused connection does.
    pub down: bool,
    /// Every call is accepted and never answered.
    pub stall: bool,
    /// Every answer comes this late; the call takes effect at once, as on
    /// an IM that made the account and answered too late.
    pub delay: Duration,
    /// The next calls answer HTTP 503.
    pub server_errors: u32,
    /// The next registers are refused with code 10008 (a name the IM does
    /// not take).
    pub refused_registers: u32,
    /// The admin calls (`roster/name`, `change_password_admin`) answer
    /// HTTP 401 unless they carry this `access-token`, as Lanying does for
    /// a revoked one. `None`: any token.
    pub admin_token: Option<String>,
}

/// Lanying's code for a name it refuses.
pub const REFUSED: i64 = 10008;
const USER_EXISTS: i64 = 10004;
const NO_SUCH_USER: i64 = 20017;
/// Lanying's user ids are large numbers.
const FIRST_USER_ID: i64 = 2_302_128_618_880;

#[derive(Debug, Default)]
struct Im {
    /// username → (user id, password).
    accounts: BTreeMap<String, (i64, String)>,
    script: Script,
    calls: BTreeMap<Call, u32>,
}

#[derive(Debug, Default)]
pub struct ScriptedMaxim {
    // Never held across an await.
    im: Mutex<Im>,
}

/// No connection could be made.
#[derive(Debug, thiserror::Error)]
#[error("connection refused (scripted)")]
struct Down;

impl ScriptedMaxim {
    pub fn new() -> Arc<Self> {
        Arc::new(ScriptedMaxim::default())
    }

    pub fn script(&self, change: impl FnOnce(&mut Script)) {
        change(&mut self.lock().script);
    }

    /// How many times the client sent `call`, answered or not.
    pub fn calls(&self, call: Call) -> u32 {
        self.lock().calls.get(&call).copied().unwrap_or(0)
    }

    /// Whether `username` logs in with `password`, and as which user id.
    pub fn login(&self, username: &str, password: &str) -> Option<i64> {
        match self.lock().accounts.get(username) {
            Some((user_id, stored)) if stored == password => Some(*user_id),
            _ => None,
        }
    }

    /// An account made before this service (by the original one).
    pub fn add_account(&self, username: &str, password: &str) -> i64 {
        let mut im = self.lock();
        let user_id = FIRST_USER_ID + im.accounts.len() as i64;
        im.accounts.insert(username.into(), (user_id, password.into()));
        user_id
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Im> {
        self.im.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The server side of one exchange.
    pub(super) async fn answer(&self, request: Request<Full<Bytes>>) -> Result<(StatusCode, Bytes), BoxError> {
        let (parts, body) = request.into_parts();
        let body: Value = serde_json::from_slice(&body.collect().await?.to_bytes()).unwrap_or(Value::Null);
        let (answer, script) = {
            let mut im = self.lock();
            let script = im.script.clone();
            let call = match (&parts.method, parts.uri.path()) {
                (&Method::POST, "/user/register/v2") => Call::Register,
                (&Method::GET, "/roster/name") => Call::RosterName,
                (&Method::POST, "/user/change_password_admin") => Call::ChangePassword,
                _ => return Ok((StatusCode::NOT_FOUND, Bytes::new())),
            };
            *im.calls.entry(call).or_default() += 1;
            if script.down {
                return Err(Down.into());
            }
            let token = parts.headers.get("access-token").and_then(|v| v.to_str().ok());
            let admin_call = matches!(call, Call::RosterName | Call::ChangePassword);
            if admin_call
                && script
                    .admin_token
                    .as_deref()
                    .is_some_and(|wanted| token != Some(wanted))
            {
                return Ok((StatusCode::UNAUTHORIZED, Bytes::new()));
            }
            let answer = if im.script.server_errors > 0 {
                im.script.server_errors -= 1;
                None
            } else {
                let query = parts.uri.query().unwrap_or_default();
                let as_user = parts.headers.get("user_id").and_then(|v| v.to_str().ok()?.parse().ok());
                Some(im.handle(call, &body, query, as_user))
            };
            (answer, script)
        };
        if script.stall {
            std::future::pending::<()>().await;
        }
        tokio::time::sleep(script.delay).await;
        Ok(match answer {
            None => (
                StatusCode::SERVICE_UNAVAILABLE,
                Bytes::from_static(b"<html>busy</html>"),
            ),
            Some(reply) => (StatusCode::OK, Bytes::from(reply.to_string())),
        })
    }
}

impl Im {
    fn handle(&mut self, call: Call, body: &Value, query: &str, as_user: Option<i64>) -> Value {
        let text = |field: &str| body.get(field).and_then(Value::as_str).unwrap_or_default().to_owned();
        match call {
            Call::Register => {
                if self.script.refused_registers > 0 {
                    self.script.refused_registers -= 1;
                    return json!({"code": REFUSED, "message": "bad username"});
                }
                let username = text("username");
                if self.accounts.contains_key(&username) {
                    return json!({"code": USER_EXISTS, "message": "user exists"});
                }
                let user_id = FIRST_USER_ID + self.accounts.len() as i64;
                self.accounts.insert(username, (user_id, text("password")));
                json!({"code": 200, "data": {"user_id": user_id}})
            }
            Call::RosterName => {
                let username = form_urlencoded::parse(query.as_bytes())
                    .find(|(key, _)| key == "username")
                    .map(|(_, value)| value.into_owned())
                    .unwrap_or_default();
                match self.accounts.get(&username) {
                    Some((user_id, _)) => json!({"code": 200, "data": {"user_id": user_id}}),
                    None => json!({"code": NO_SUCH_USER, "message": "no such user"}),
                }
            }
            Call::ChangePassword => {
                let account = self
                    .accounts
                    .values_mut()
                    .find(|(user_id, _)| Some(*user_id) == as_user);
                match account {
                    Some((_, password)) => {
                        *password = text("password");
                        json!({"code": 200, "data": true})
                    }
                    None => json!({"code": NO_SUCH_USER, "message": "no such user"}),
                }
            }
        }
    }
}

/// An admin token read from a secret that holds each of `tokens` in turn
/// (then the last), and how many reads were made.
pub fn rotating_admin_token(tokens: &'static [&'static str]) -> (Refreshing<AdminToken>, Arc<AtomicUsize>) {
    let reads = Arc::new(AtomicUsize::new(0));
    let counted = reads.clone();
    let token = Refreshing::read_by("the admin token", ReadPolicy::DEFAULT, move || {
        let read = counted.fetch_add(1, Ordering::SeqCst);
        let token = tokens[read.min(tokens.len() - 1)];
        Box::pin(async move { Ok(AdminToken::new(token.into())) })
    });
    (token, reads)
}
