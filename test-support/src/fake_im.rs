//! A fake Lanying IM ("Maxim") server, for tests and local runs only.
//!
//! The three calls the service makes, with the rules and codes of the IM's
//! docs (maxim-top/im.gitbook `reference/server-api` and its Swagger file):
//! `POST /user/register/v2`, `GET /roster/name`, `POST
//! /user/change_password_admin`. Business errors are HTTP 200 with another
//! `code`. Where the docs say nothing the fake chooses, and says so below.
//! Faults are set at run time. It logs nothing: no password or token leaks.

use crate::http_server::{self, Reply};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{HeaderMap, Method, Request, Response, StatusCode};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::fmt;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::net::{TcpListener, TcpSocket};
use tokio::task::JoinHandle;

/// Like the docs' example ids: above `u32::MAX`, so a truncation shows.
pub const FIRST_USER_ID: i64 = 2_302_128_618_880;

/// The kinds of call, for counters and for aiming a fault at one kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Call {
    Register,
    Lookup,
    ChangePassword,
    Other,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// This HTTP status (5xx) and an HTML body, as from a gateway; no effect.
    /// `Http(503)` for `usize::MAX` calls: an IM down behind its gateway.
    Http(u16),
    /// HTTP 200 with this business `code`; no effect.
    Code(i64),
    /// The connection is closed before the call is looked at.
    Reset,
    /// The call takes effect, then the connection is closed with no reply.
    LoseReply,
    /// The call waits this long, then takes effect and is answered.
    Delay(Duration),
}

#[derive(Clone, PartialEq, Eq)]
pub struct Account {
    pub user_id: i64,
    pub username: String,
    pub password: String,
}

// By hand, so that a failed assertion never prints a password.
impl fmt::Debug for Account {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (id, name) = (self.user_id, &self.username);
        write!(
            f,
            "Account {{ user_id: {id}, username: {name:?}, password: <redacted> }}"
        )
    }
}

/// The Swagger pattern of `UserRegisterRequest.username`,
/// `^(?!mta|maxim)[a-zA-Z0-9_一-龥]*[a-zA-Z_一-龥]+[a-zA-Z0-9_一-龥]*`, as a
/// full match (a Java `@Pattern`): ASCII letters, digits, `_` and CJK
/// U+4E00..=U+9FA5; not only digits; not starting with `mta` or `maxim`
/// (case-sensitive, like the regex). No length limit is documented.
pub fn valid_username(name: &str) -> bool {
    let allowed = |c: char| c.is_ascii_alphanumeric() || c == '_' || ('\u{4E00}'..='\u{9FA5}').contains(&c);
    !name.starts_with("mta")
        && !name.starts_with("maxim")
        && name.chars().all(allowed)
        && name.chars().any(|c| !c.is_ascii_digit())
}

#[derive(Default)]
struct State {
    /// By username, case-sensitive (the docs do not say).
    accounts: HashMap<String, Account>,
    /// (aimed at this kind of call or at any, fault, calls left)
    rules: Vec<(Option<Call>, Fault, usize)>,
    delay: Duration,
}

impl State {
    fn create(&mut self, username: &str, password: &str) -> i64 {
        let user_id = FIRST_USER_ID + self.accounts.len() as i64; // accounts are never deleted
        let (username, password) = (username.to_owned(), password.to_owned());
        let account = Account {
            user_id,
            username: username.clone(),
            password,
        };
        self.accounts.insert(username, account);
        user_id
    }

    /// The first rule aimed at this call, used once.
    fn take_fault(&mut self, call: Call) -> Option<Fault> {
        let at = self.rules.iter().position(|r| r.0.is_none_or(|c| c == call))?;
        let (_, fault, left) = &mut self.rules[at];
        let fault = *fault;
        *left -= 1;
        if *left == 0 {
            self.rules.remove(at);
        }
        Some(fault)
    }
}

#[derive(Default)]
struct Shared {
    app_id: String,
    admin_token: Mutex<String>,
    state: Mutex<State>,
    /// Set while the port is closed, so that kept-alive connections fail too.
    down: AtomicBool,
    calls: [AtomicU64; 4], // by `Call`
    total: AtomicU64,
    in_flight: AtomicU64,
    max_in_flight: AtomicU64,
}

pub struct FakeIm {
    shared: Arc<Shared>,
    addr: SocketAddr,
    accept: Mutex<Option<JoinHandle<()>>>,
}

impl Drop for FakeIm {
    fn drop(&mut self) {
        self.accept.lock().unwrap().take().inspect(JoinHandle::abort);
    }
}

impl FakeIm {
    /// On a free port of 127.0.0.1.
    pub async fn start(app_id: &str, admin_token: &str) -> FakeIm {
        FakeIm::start_on(0, app_id, admin_token).await
    }

    pub async fn start_on(port: u16, app_id: &str, admin_token: &str) -> FakeIm {
        let listener = listen(SocketAddr::from(([127, 0, 0, 1], port))).expect("fake IM: bind");
        let addr = listener.local_addr().unwrap();
        let (app_id, admin_token) = (app_id.to_owned(), admin_token.to_owned());
        let shared = Arc::new(Shared {
            app_id,
            admin_token: Mutex::new(admin_token),
            ..Shared::default()
        });
        let accept = Mutex::new(Some(serve(listener, shared.clone())));
        FakeIm { shared, addr, accept }
    }

    /// From now on the IM accepts only `token` (the old one is revoked).
    pub fn set_admin_token(&self, token: &str) {
        *self.shared.admin_token.lock().unwrap() = token.to_owned();
    }

    /// `http://127.0.0.1:PORT`, for `MAXIM_API_URL`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The IM's id for this username when the password logs in, else None.
    pub fn logs_in(&self, username: &str, password: &str) -> Option<i64> {
        let account = self.account(username)?;
        (account.password == password).then_some(account.user_id)
    }

    pub fn account(&self, username: &str) -> Option<Account> {
        self.state().accounts.get(username).cloned()
    }

    /// An account made earlier by someone else (the original service, or an
    /// attempt whose reply was lost); no call is counted.
    pub fn preexisting(&self, username: &str, password: &str) -> i64 {
        let mut state = self.state();
        assert!(valid_username(username), "the IM would not accept {username:?}");
        assert!(!state.accounts.contains_key(username), "{username:?} exists already");
        state.create(username, password)
    }

    /// Calls of one kind that reached the IM, faulted ones included.
    pub fn calls(&self, call: Call) -> u64 {
        self.shared.calls[call as usize].load(Relaxed)
    }

    pub fn total_calls(&self) -> u64 {
        self.shared.total.load(Relaxed)
    }

    /// The most calls the IM was serving at one time.
    pub fn max_in_flight(&self) -> u64 {
        self.shared.max_in_flight.load(Relaxed)
    }

    pub fn reset_counters(&self) {
        self.shared.calls.iter().for_each(|c| c.store(0, Relaxed));
        self.shared.total.store(0, Relaxed);
        self.shared.max_in_flight.store(0, Relaxed);
    }

    /// The next `times` calls of kind `only` (of any kind if None) get
    /// `fault`. Rules apply in the order they were added.
    pub fn inject(&self, only: Option<Call>, fault: Fault, times: usize) {
        if times > 0 {
            self.state().rules.push((only, fault, times));
        }
    }

    pub fn clear_faults(&self) {
        self.state().rules.clear();
    }

    /// Every call waits this long before it takes effect and is answered.
    pub fn set_delay(&self, delay: Duration) {
        self.state().delay = delay;
    }

    /// Down: the port is closed and connections are refused; up: the same
    /// port listens again. Async: it returns once the port is closed.
    pub async fn set_down(&self, down: bool) {
        self.shared.down.store(down, Relaxed);
        let running = self.accept.lock().unwrap().take();
        let running = match (down, running) {
            (true, Some(task)) => {
                task.abort();
                let _ = task.await; // the listener is dropped by then
                None
            }
            (false, None) => Some(serve(
                listen(self.addr).expect("fake IM: bind again"),
                self.shared.clone(),
            )),
            (_, running) => running,
        };
        *self.accept.lock().unwrap() = running;
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.shared.state.lock().unwrap()
    }
}

/// With `SO_REUSEADDR`, so that the port can be bound again after `set_down`.
fn listen(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = TcpSocket::new_v4()?;
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(1024)
}

fn serve(listener: TcpListener, shared: Arc<Shared>) -> JoinHandle<()> {
    http_server::serve(listener, move |request| handle(request, shared.clone()))
}

async fn handle(request: Request<Incoming>, shared: Arc<Shared>) -> Reply {
    if shared.down.load(Relaxed) {
        return Err(std::io::Error::other("fake IM: down"));
    }
    let _in_flight = InFlight::enter(&shared);
    let call = match (request.method(), request.uri().path()) {
        (&Method::POST, "/user/register/v2") => Call::Register,
        (&Method::GET, "/roster/name") => Call::Lookup,
        (&Method::POST, "/user/change_password_admin") => Call::ChangePassword,
        _ => Call::Other,
    };
    shared.total.fetch_add(1, Relaxed);
    shared.calls[call as usize].fetch_add(1, Relaxed);
    let (parts, body) = request.into_parts();
    let body = body.collect().await.map_err(std::io::Error::other)?.to_bytes();
    // A wrong or revoked token, on any call, even register (the fake's
    // choice: a bad MAXIM_ADMIN_TOKEN shows at once): HTTP 401, the
    // answer the Swagger file documents for every call.
    let token = parts.headers.get("access-token").and_then(|v| v.to_str().ok());
    if token.is_some_and(|token| token != *shared.admin_token.lock().unwrap()) {
        return Ok(respond(
            StatusCode::UNAUTHORIZED,
            "application/json;charset=UTF-8",
            r#"{"code":401,"message":"Unauthorized","data":null}"#.into(),
        ));
    }
    let (fault, delay) = {
        let mut state = shared.state.lock().unwrap();
        (state.take_fault(call), state.delay)
    };
    let extra = match fault {
        Some(Fault::Http(status)) => return Ok(html(status)),
        Some(Fault::Code(code)) => return Ok(business(Err(code))),
        Some(Fault::Reset) => return Err(std::io::Error::other("fake IM: injected reset")),
        Some(Fault::Delay(extra)) => extra,
        _ => Duration::ZERO,
    };
    if call == Call::Other {
        return Ok(html(404));
    }
    // Spawned, so that a call takes effect even when the client has stopped
    // waiting for it, as on a real server.
    let worker = shared.clone();
    let work = tokio::spawn(async move {
        tokio::time::sleep(delay + extra).await;
        answer(&worker, call, &parts.headers, parts.uri.query(), &body)
    });
    let answer = work.await.map_err(std::io::Error::other)?;
    if fault == Some(Fault::LoseReply) {
        return Err(std::io::Error::other("fake IM: reply lost after the call took effect"));
    }
    Ok(business(answer))
}

/// A guard, not a decrement after the call: hyper drops the call's future
/// when the client goes away.
struct InFlight<'a>(&'a Shared);

impl<'a> InFlight<'a> {
    fn enter(shared: &'a Shared) -> Self {
        let now = shared.in_flight.fetch_add(1, Relaxed) + 1;
        shared.max_in_flight.fetch_max(now, Relaxed);
        InFlight(shared)
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Relaxed);
    }
}

/// `data`, or the error `code`.
fn answer(shared: &Shared, call: Call, headers: &HeaderMap, query: Option<&str>, body: &[u8]) -> Result<Value, i64> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    // A missing `app_id` is answered like an unknown one (not documented).
    if header("app_id") != Some(shared.app_id.as_str()) {
        return Err(40000);
    }
    // Admin calls: the lookup and the admin password change. Register needs
    // no token (the docs' example sends none; the web SDK calls it before
    // login). A wrong one is refused before (`handle`).
    if matches!(call, Call::Lookup | Call::ChangePassword) && header("access-token").is_none() {
        return Err(10003);
    }
    // Any string is a password (no rule is documented) but the empty one.
    let body: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let field = |name: &str| body[name].as_str().filter(|s| !s.is_empty()).ok_or(10002);
    let mut state = shared.state.lock().unwrap();
    match call {
        Call::Register => {
            let username = field("username").and_then(|u| valid_username(u).then_some(u).ok_or(10002))?;
            let password = field("password")?;
            if state.accounts.contains_key(username) {
                return Err(10004);
            }
            let user_id = state.create(username, password);
            // The quick-start example's shape (UserSettings), shortened.
            Ok(json!({"user_id": user_id, "auto_download": false, "group_confirm": false, "auth_mode": 0}))
        }
        Call::Lookup => {
            let mut pairs = form_urlencoded::parse(query.unwrap_or_default().as_bytes());
            let name = pairs.find(|(k, v)| k == "username" && !v.is_empty()).ok_or(10002)?.1;
            let account = state.accounts.get(name.as_ref()).ok_or(10000)?;
            // A RosterItemDto; relation 2 is "stranger".
            Ok(json!({"user_id": account.user_id, "username": account.username, "relation": 2}))
        }
        Call::ChangePassword => {
            let target: i64 = header("user_id").and_then(|v| v.trim().parse().ok()).ok_or(10002)?;
            let password = field("password")?.to_owned();
            let account = state.accounts.values_mut().find(|a| a.user_id == target).ok_or(10000)?;
            account.password = password;
            Ok(Value::Bool(true))
        }
        Call::Other => unreachable!("answered 404 before"),
    }
}

fn business(answer: Result<Value, i64>) -> Response<Full<Bytes>> {
    let body = match answer {
        Ok(data) => json!({"code": 200, "message": null, "data": data}),
        Err(code) => json!({"code": code, "message": format!("fake IM: error {code}"), "data": null}),
    };
    respond(StatusCode::OK, "application/json;charset=UTF-8", body.to_string())
}

/// What a gateway in front of the IM answers when the IM fails.
fn html(status: u16) -> Response<Full<Bytes>> {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY);
    let body = format!("<html><body><h1>{status}</h1></body></html>");
    respond(status, "text/html", body)
}

fn respond(status: StatusCode, content_type: &str, body: String) -> Response<Full<Bytes>> {
    let response = Response::builder().status(status).header("content-type", content_type);
    response.body(Full::new(Bytes::from(body))).unwrap()
}
