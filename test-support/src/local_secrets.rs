//! A local Secrets Manager for the tests: moto's server, started by
//! scripts/test.sh (`AWS_ENDPOINT_URL_SECRETSMANAGER`), and a gate in front
//! of it that counts the function's `GetSecretValue` calls and can be shut
//! (connections dropped) or stalled (calls never answered).

use crate::http_server::{self, Reply};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::sync::Arc;
use tokio::net::{TcpListener, TcpStream};

/// moto's endpoint. Refuses anything but loopback, so that no test ever
/// touches a real secret.
pub fn secrets_manager_endpoint() -> String {
    let endpoint = std::env::var("AWS_ENDPOINT_URL_SECRETSMANAGER").unwrap_or_else(|_| {
        panic!(
            "this test needs a local Secrets Manager, and AWS_ENDPOINT_URL_SECRETSMANAGER is not set: \
             run it with scripts/test.sh, which starts moto"
        )
    });
    assert!(
        endpoint.starts_with("http://127.0.0.1:") || endpoint.starts_with("http://localhost:"),
        "tests only run against a local Secrets Manager on loopback, not {endpoint}"
    );
    endpoint
}

/// Sends one Secrets Manager call to `endpoint` as the AWS CLI would
/// (moto reads the region from the signature's scope, not its value).
async fn call(endpoint: &str, operation: &str, input: Value) -> (StatusCode, Value) {
    let upstream: SocketAddr = endpoint.trim_start_matches("http://").parse().expect("http://IP:PORT");
    let stream = TcpStream::connect(upstream).await.expect("moto is up");
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(connection);
    let region = std::env::var("AWS_REGION").unwrap_or_else(|_| "us-east-1".into());
    let body = input.to_string();
    let request = Request::post("/")
        .header("host", upstream.to_string())
        .header("content-type", "application/x-amz-json-1.1")
        .header("x-amz-target", format!("secretsmanager.{operation}"))
        .header(
            "authorization",
            format!("AWS4-HMAC-SHA256 Credential=local/20260101/{region}/secretsmanager/aws4_request, SignedHeaders=host, Signature=0"),
        )
        .header("content-length", body.len())
        .body(Full::new(Bytes::from(body)))
        .unwrap();
    let response = sender.send_request(request).await.expect("moto answers");
    let status = response.status();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
}

/// Secrets in moto, by name.
pub struct LocalSecrets {
    endpoint: String,
}

impl LocalSecrets {
    /// The moto the test scripts started; panics, saying so, without one
    /// (which is why this is not a `Default`).
    #[allow(clippy::new_without_default)]
    pub fn new() -> Self {
        LocalSecrets {
            endpoint: secrets_manager_endpoint(),
        }
    }

    /// A new secret (names must be unique: use `helpers::unique`).
    pub async fn create(&self, name: &str, value: &str) {
        let (status, answer) = call(
            &self.endpoint,
            "CreateSecret",
            json!({"Name": name, "SecretString": value}),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "CreateSecret: {answer}");
    }

    /// A new current version of the secret, as `aws secretsmanager
    /// put-secret-value` makes it.
    pub async fn put(&self, name: &str, value: &str) {
        let (status, answer) = call(
            &self.endpoint,
            "PutSecretValue",
            json!({"SecretId": name, "SecretString": value}),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "PutSecretValue: {answer}");
    }
}

const UP: u8 = 0;
const DOWN: u8 = 1;
const STALLED: u8 = 2;

/// A gate between the function and moto.
pub struct SecretsGate {
    pub endpoint: String,
    state: Arc<GateState>,
    task: tokio::task::JoinHandle<()>,
}

#[derive(Default)]
struct GateState {
    mode: AtomicU8,
    reads: AtomicU64,
}

impl Drop for SecretsGate {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl SecretsGate {
    pub async fn start() -> SecretsGate {
        let upstream = secrets_manager_endpoint();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let state = Arc::new(GateState::default());
        let shared = state.clone();
        // Errors drop the connection: a shut gate's answer.
        let task = http_server::serve(listener, move |request| pass(request, upstream.clone(), shared.clone()));
        SecretsGate { endpoint, state, task }
    }

    /// `GetSecretValue` calls that reached the gate, whatever it did with them.
    pub fn reads(&self) -> u64 {
        self.state.reads.load(Ordering::SeqCst)
    }

    /// Calls from now on are dropped without an answer (as from a
    /// Secrets Manager that cannot be reached).
    pub fn shut(&self) {
        self.state.mode.store(DOWN, Ordering::SeqCst);
    }

    /// Calls from now on are never answered.
    pub fn stall(&self) {
        self.state.mode.store(STALLED, Ordering::SeqCst);
    }

    pub fn open(&self) {
        self.state.mode.store(UP, Ordering::SeqCst);
    }
}

async fn pass(request: Request<Incoming>, upstream: String, state: Arc<GateState>) -> Reply {
    let operation = request
        .headers()
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    if operation == "secretsmanager.GetSecretValue" {
        state.reads.fetch_add(1, Ordering::SeqCst);
    }
    match state.mode.load(Ordering::SeqCst) {
        DOWN => return Err(std::io::Error::other("the gate is shut")),
        STALLED => std::future::pending::<()>().await,
        _ => {}
    }
    let (parts, body) = request.into_parts();
    let body = body.collect().await.map_err(std::io::Error::other)?.to_bytes();
    let upstream_addr: SocketAddr = upstream
        .trim_start_matches("http://")
        .parse()
        .map_err(std::io::Error::other)?;
    let forwarded = http_server::forward(upstream_addr, &parts, body).await?;
    let mut answer = Response::builder().status(forwarded.status());
    if let Some(content_type) = forwarded.headers().get("content-type") {
        answer = answer.header("content-type", content_type);
    }
    let body = forwarded.into_body();
    answer.body(Full::new(body)).map_err(std::io::Error::other)
}
