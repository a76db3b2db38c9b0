//! A fault-injecting HTTP proxy between the SDK and DynamoDB Local, for
//! tests only. On a seeded random schedule it answers a call with
//! throttling (`ProvisionedThroughputExceededException`,
//! `ThrottlingException`), an `InternalServerError` (500), a dropped
//! connection (before or after DynamoDB saw the call), or a delay; and it
//! turns part of a `BatchWriteItem` / `BatchGetItem` into
//! `UnprocessedItems` / `UnprocessedKeys` by forwarding only some of it.
//! It can also stall: accept calls and never answer.

use crate::http_server::{self, Reply};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::TcpListener;

#[derive(Clone, Copy, Debug)]
pub struct FaultPlan {
    pub seed: u64,
    /// Share of calls answered with a fault instead of DynamoDB's answer.
    pub fault_rate: f64,
    /// Share of batch calls (with at least two requests) cut into parts.
    pub partial_rate: f64,
    /// Accept calls and never answer them.
    pub stall: bool,
    /// Answer every batch call with all of it unprocessed, without
    /// forwarding it: DynamoDB that stays too busy to do any of the work.
    pub process_nothing: bool,
    /// The faults drawn from when a call is faulted.
    pub faults: &'static [Fault],
}

impl FaultPlan {
    /// Every kind of fault, at `fault_rate`, and partial batches.
    pub fn mixed(seed: u64, fault_rate: f64, partial_rate: f64) -> Self {
        FaultPlan {
            seed,
            fault_rate,
            partial_rate,
            stall: false,
            process_nothing: false,
            faults: &FAULTS,
        }
    }

    /// No faults; a share `rate` of the batch calls of two or more
    /// requests is cut in two, the second part answered as unprocessed.
    pub fn partial_batches(seed: u64, rate: f64) -> Self {
        Self::mixed(seed, 0.0, rate)
    }

    /// Every batch call answered with all of it unprocessed.
    pub fn nothing_processed() -> Self {
        FaultPlan {
            process_nothing: true,
            ..Self::mixed(0, 0.0, 0.0)
        }
    }

    /// Only lost replies: DynamoDB does the work, the answer never comes
    /// back, and the SDK sends the call again.
    pub fn lost_replies(seed: u64, fault_rate: f64) -> Self {
        FaultPlan {
            faults: &[Fault::DropAfterForwarding],
            ..Self::mixed(seed, fault_rate, 0.0)
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Fault {
    ProvisionedThroughputExceeded,
    Throttling,
    InternalServerError,
    DropBeforeForwarding,
    DropAfterForwarding,
    Delay,
    Partial,
}

const FAULTS: [Fault; 6] = [
    Fault::ProvisionedThroughputExceeded,
    Fault::Throttling,
    Fault::InternalServerError,
    Fault::DropBeforeForwarding,
    Fault::DropAfterForwarding,
    Fault::Delay,
];

/// What the proxy did, per kind of call.
#[derive(Default)]
pub struct Stats {
    pub calls: AtomicU64,
    pub by_fault: Mutex<HashMap<Fault, u64>>,
    /// Per DynamoDB operation (`BatchWriteItem`...), the partial answers given.
    pub partial_by_operation: Mutex<HashMap<String, u64>>,
}

impl Stats {
    pub fn faulted(&self) -> u64 {
        self.by_fault.lock().unwrap().values().sum()
    }

    pub fn count(&self, fault: Fault) -> u64 {
        self.by_fault.lock().unwrap().get(&fault).copied().unwrap_or(0)
    }
}

pub struct FaultProxy {
    pub endpoint: String,
    pub stats: Arc<Stats>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A small deterministic generator (splitmix64): the schedule is a function
/// of the seed and the order of calls.
struct Schedule(u64);

impl Schedule {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn chance(&mut self, rate: f64) -> bool {
        (self.next() as f64 / u64::MAX as f64) < rate
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

impl FaultProxy {
    pub async fn start(upstream: &str, plan: FaultPlan) -> FaultProxy {
        let upstream: SocketAddr = upstream
            .trim_start_matches("http://")
            .parse()
            .expect("DynamoDB Local at http://IP:PORT");
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let stats = Arc::new(Stats::default());
        let schedule = Arc::new(Mutex::new(Schedule(plan.seed)));
        let shared = stats.clone();
        let task = http_server::serve(listener, move |request| {
            handle(request, upstream, plan, shared.clone(), schedule.clone())
        });
        FaultProxy { endpoint, stats, task }
    }
}

async fn handle(
    request: Request<Incoming>,
    upstream: SocketAddr,
    plan: FaultPlan,
    stats: Arc<Stats>,
    schedule: Arc<Mutex<Schedule>>,
) -> Reply {
    stats.calls.fetch_add(1, Ordering::Relaxed);
    if plan.stall {
        tokio::time::sleep(Duration::from_secs(3600)).await;
    }
    let operation = request
        .headers()
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split('.').nth(1))
        .unwrap_or_default()
        .to_owned();
    let (parts, body) = request.into_parts();
    let body = body.collect().await.map_err(std::io::Error::other)?.to_bytes();

    let (fault, split_at, delay) = {
        let mut schedule = schedule.lock().unwrap();
        let batch_len = batch_len(&operation, &body);
        let fault = if schedule.chance(plan.fault_rate) {
            Some(plan.faults[schedule.below(plan.faults.len())])
        } else if batch_len >= 2 && schedule.chance(plan.partial_rate) {
            Some(Fault::Partial)
        } else {
            None
        };
        let split_at = 1 + schedule.below(batch_len.max(2) - 1);
        (fault, split_at, Duration::from_millis(50 + schedule.below(250) as u64))
    };
    if let Some(fault) = fault {
        *stats.by_fault.lock().unwrap().entry(fault).or_default() += 1;
    }

    let error = |status: StatusCode, kind: &str, message: &str| {
        let body = json!({"__type": kind, "message": message}).to_string();
        Ok(Response::builder()
            .status(status)
            .header("content-type", "application/x-amz-json-1.0")
            .body(Full::new(Bytes::from(body)))
            .unwrap())
    };
    match fault {
        Some(Fault::ProvisionedThroughputExceeded) => {
            return error(
                StatusCode::BAD_REQUEST,
                "com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException",
                "injected: throughput exceeded",
            )
        }
        Some(Fault::Throttling) => {
            return error(
                StatusCode::BAD_REQUEST,
                "com.amazon.coral.availability#ThrottlingException",
                "injected: rate exceeded",
            )
        }
        Some(Fault::InternalServerError) => {
            return error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "com.amazonaws.dynamodb.v20120810#InternalServerError",
                "injected: internal server error",
            )
        }
        Some(Fault::DropBeforeForwarding) => return Err(std::io::Error::other("injected: connection dropped")),
        Some(Fault::Delay) => tokio::time::sleep(delay).await,
        _ => {}
    }

    if plan.process_nothing && batch_len(&operation, &body) > 0 {
        let (_, unprocessed) = split_batch(&operation, &body, 0);
        let mut answer = json!({});
        merge_unprocessed(&operation, &mut answer, unprocessed);
        return Ok(reply((StatusCode::OK, Bytes::from(answer.to_string()))));
    }

    if fault == Some(Fault::Partial) {
        let (forwarded, unprocessed) = split_batch(&operation, &body, split_at);
        let mut answer = forward(upstream, &parts, Bytes::from(forwarded.to_string())).await?;
        let mut json: Value = serde_json::from_slice(&answer.1).map_err(std::io::Error::other)?;
        if answer.0.is_success() {
            merge_unprocessed(&operation, &mut json, unprocessed);
            *stats.partial_by_operation.lock().unwrap().entry(operation).or_default() += 1;
        }
        answer.1 = Bytes::from(json.to_string());
        return Ok(reply(answer));
    }

    let answer = forward(upstream, &parts, body).await?;
    if fault == Some(Fault::DropAfterForwarding) {
        return Err(std::io::Error::other(
            "injected: connection dropped after DynamoDB answered",
        ));
    }
    Ok(reply(answer))
}

/// How many requests a batch call carries (0 for other calls).
fn batch_len(operation: &str, body: &[u8]) -> usize {
    let Ok(json) = serde_json::from_slice::<Value>(body) else {
        return 0;
    };
    let Some(tables) = json["RequestItems"].as_object() else {
        return 0;
    };
    tables
        .values()
        .map(|table| match operation {
            "BatchWriteItem" => table.as_array().map_or(0, Vec::len),
            "BatchGetItem" => table["Keys"].as_array().map_or(0, Vec::len),
            _ => 0,
        })
        .sum()
}

/// Splits a one-table batch request: the first `at` requests are forwarded,
/// the rest come back as unprocessed.
fn split_batch(operation: &str, body: &[u8], at: usize) -> (Value, Value) {
    let mut json: Value = serde_json::from_slice(body).unwrap();
    let (table, items) = json["RequestItems"].as_object_mut().unwrap().iter_mut().next().unwrap();
    let table = table.clone();
    let list = match operation {
        "BatchWriteItem" => items.as_array_mut().unwrap(),
        _ => items["Keys"].as_array_mut().unwrap(),
    };
    let rest: Vec<Value> = list.split_off(at.min(list.len()));
    let unprocessed = match operation {
        "BatchWriteItem" => json!({ table: rest }),
        _ => {
            let mut keys = json["RequestItems"][&table].clone();
            keys["Keys"] = Value::Array(rest);
            json!({ table: keys })
        }
    };
    (json, unprocessed)
}

fn merge_unprocessed(operation: &str, answer: &mut Value, unprocessed: Value) {
    let field = if operation == "BatchWriteItem" {
        "UnprocessedItems"
    } else {
        "UnprocessedKeys"
    };
    answer[field] = unprocessed;
}

async fn forward(
    upstream: SocketAddr,
    parts: &hyper::http::request::Parts,
    body: Bytes,
) -> Result<(StatusCode, Bytes), std::io::Error> {
    let answer = http_server::forward(upstream, parts, body).await?;
    Ok((answer.status(), answer.into_body()))
}

/// DynamoDB's answer, re-sent. Its CRC32 header is left out: the body may
/// have been rewritten, and the SDK checks the header only when present.
fn reply((status, body): (StatusCode, Bytes)) -> Response<Full<Bytes>> {
    Response::builder()
        .status(status)
        .header("content-type", "application/x-amz-json-1.0")
        .body(Full::new(body))
        .unwrap()
}
