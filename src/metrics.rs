//! CloudWatch metrics without an agent: one line of CloudWatch's Embedded
//! Metric Format (EMF) per request, written to stdout, which Lambda sends to
//! CloudWatch Logs, which turns it into metrics.
//!
//! What happens during a request (DynamoDB calls and their retries, IM
//! calls, the size of a batch) is counted in a task-local [`Counters`] that
//! [`measured`] sets up around the request: the store's SDK interceptor and
//! the IM client add to it from wherever they run in that request, without
//! being handed anything. The edge then writes the line ([`RequestMetrics`]).
//!
//! Specification: <https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html>

use serde_json::{json, Map, Value};
use std::cell::Cell;
use std::future::Future;

tokio::task_local! {
    static COUNTERS: Counters;
}

/// What one request did. `Cell`s: a request runs on one task, so its
/// concurrent parts never touch the counters at the same time.
#[derive(Default, Debug)]
pub struct Counters {
    dynamodb_calls: Cell<u32>,
    dynamodb_attempts: Cell<u32>,
    dynamodb_resends: Cell<u32>,
    im_calls: Cell<u32>,
    batch_size: Cell<Option<u32>>,
}

/// The counters of a finished request.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counted {
    /// DynamoDB operations sent; a re-send of unprocessed items or keys is
    /// a new operation.
    pub dynamodb_calls: u32,
    /// Work repeated because DynamoDB pushed back: the SDK's attempts
    /// beyond the first of each operation, plus the re-send rounds for
    /// `UnprocessedItems` / `UnprocessedKeys`.
    pub dynamodb_retries: u32,
    pub im_calls: u32,
    /// Users or ids in a batch request, as sent.
    pub batch_size: Option<u32>,
}

/// Runs `request` with fresh counters and returns what it counted.
pub async fn measured<F: Future>(request: F) -> (F::Output, Counted) {
    COUNTERS
        .scope(Counters::default(), async {
            let output = request.await;
            let counted = COUNTERS.with(|c| Counted {
                dynamodb_calls: c.dynamodb_calls.get(),
                dynamodb_retries: c.dynamodb_attempts.get().saturating_sub(c.dynamodb_calls.get())
                    + c.dynamodb_resends.get(),
                im_calls: c.im_calls.get(),
                batch_size: c.batch_size.get(),
            });
            (output, counted)
        })
        .await
}

/// Outside [`measured`] (start-up, tools) counting does nothing.
fn count(add: impl FnOnce(&Counters)) {
    let _ = COUNTERS.try_with(add);
}

/// One DynamoDB operation began (the SDK's retries are attempts of it).
pub fn count_dynamodb_call() {
    count(|c| c.dynamodb_calls.set(c.dynamodb_calls.get() + 1));
}

/// One attempt of a DynamoDB operation is about to be sent.
pub fn count_dynamodb_attempt() {
    count(|c| c.dynamodb_attempts.set(c.dynamodb_attempts.get() + 1));
}

/// What DynamoDB left unprocessed is about to be sent again.
pub fn count_dynamodb_resend() {
    count(|c| c.dynamodb_resends.set(c.dynamodb_resends.get() + 1));
}

/// One HTTP request to the IM is about to be sent.
pub fn count_im_call() {
    count(|c| c.im_calls.set(c.im_calls.get() + 1));
}

pub fn record_batch_size(size: usize) {
    count(|c| c.batch_size.set(Some(u32::try_from(size).unwrap_or(u32::MAX))));
}

/// One request's metrics, ready to be written as an EMF line.
#[derive(Debug)]
pub struct RequestMetrics<'a> {
    pub namespace: &'a str,
    /// The route's name (`register`, `infos`, ...), or `none` when no route
    /// matched (404, 405).
    pub route: &'a str,
    pub status: u16,
    pub latency_ms: f64,
    /// The first request this instance served.
    pub cold_start: bool,
    pub counted: Counted,
    pub request_id: &'a str,
}

impl RequestMetrics<'_> {
    /// The EMF line (no trailing newline): metric values at the root, with
    /// two directives declaring them. Per route and status class: latency,
    /// DynamoDB calls and retries, IM calls, and the batch size of batch
    /// requests. Service-wide (no dimension): 401s, 403s and cold starts,
    /// each 0 or 1, so that an average is a rate. The request id rides
    /// along as a plain property, to find the request's logs from the line.
    pub fn to_emf(&self, timestamp_ms: u64) -> String {
        let counted = &self.counted;
        let mut per_route: Vec<(&str, &str, Value)> = vec![
            ("Latency", "Milliseconds", json!(self.latency_ms)),
            ("DynamoDbCalls", "Count", json!(counted.dynamodb_calls)),
            ("DynamoDbRetries", "Count", json!(counted.dynamodb_retries)),
            ("ImCalls", "Count", json!(counted.im_calls)),
        ];
        if let Some(size) = counted.batch_size {
            per_route.push(("BatchSize", "Count", json!(size)));
        }
        let service_wide: [(&str, &str, Value); 3] = [
            ("Status401", "Count", json!(u8::from(self.status == 401))),
            ("Status403", "Count", json!(u8::from(self.status == 403))),
            ("ColdStart", "Count", json!(u8::from(self.cold_start))),
        ];
        let declare = |metrics: &[(&str, &str, Value)]| -> Vec<Value> {
            metrics
                .iter()
                .map(|(name, unit, _)| json!({"Name": name, "Unit": unit}))
                .collect()
        };
        let mut line = Map::new();
        line.insert(
            "_aws".into(),
            json!({
                "Timestamp": timestamp_ms,
                "CloudWatchMetrics": [
                    {"Namespace": self.namespace, "Dimensions": [["route", "status_class"]], "Metrics": declare(&per_route)},
                    {"Namespace": self.namespace, "Dimensions": [[]], "Metrics": declare(&service_wide)},
                ],
            }),
        );
        line.insert("route".into(), json!(self.route));
        line.insert("status_class".into(), json!(format!("{}xx", self.status / 100)));
        for (name, _, value) in per_route.into_iter().chain(service_wide) {
            line.insert(name.into(), value);
        }
        line.insert("request_id".into(), json!(self.request_id));
        Value::Object(line).to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn metrics(status: u16, counted: Counted) -> RequestMetrics<'static> {
        RequestMetrics {
            namespace: "Test/Ns",
            route: "infos",
            status,
            latency_ms: 12.5,
            cold_start: true,
            counted,
            request_id: "req-1",
        }
    }

    #[test]
    fn the_line_is_an_emf_document_whose_declared_metrics_are_at_the_root() {
        let counted = Counted {
            dynamodb_calls: 2,
            dynamodb_retries: 1,
            im_calls: 0,
            batch_size: Some(150),
        };
        let line: Value = serde_json::from_str(&metrics(200, counted).to_emf(1_700_000_000_000)).unwrap();
        let aws = &line["_aws"];
        assert_eq!(aws["Timestamp"], 1_700_000_000_000u64);
        let directives = aws["CloudWatchMetrics"].as_array().unwrap();
        assert_eq!(directives[0]["Dimensions"], json!([["route", "status_class"]]));
        assert_eq!(directives[1]["Dimensions"], json!([[]]));
        assert_eq!(
            (&line["route"], &line["status_class"]),
            (&json!("infos"), &json!("2xx"))
        );
        for directive in directives {
            assert_eq!(directive["Namespace"], "Test/Ns");
            for metric in directive["Metrics"].as_array().unwrap() {
                let name = metric["Name"].as_str().unwrap();
                assert!(line[name].is_number(), "{name} has a numeric value at the root");
            }
        }
        assert_eq!(
            (&line["DynamoDbCalls"], &line["DynamoDbRetries"]),
            (&json!(2), &json!(1))
        );
        assert_eq!((&line["BatchSize"], &line["ColdStart"]), (&json!(150), &json!(1)));
        assert_eq!(line["request_id"], "req-1");
    }

    #[test]
    fn status_classes_and_auth_failures_are_counted() {
        let unauthorized: Value = serde_json::from_str(&metrics(401, Counted::default()).to_emf(0)).unwrap();
        assert_eq!(
            (
                &unauthorized["status_class"],
                &unauthorized["Status401"],
                &unauthorized["Status403"]
            ),
            (&json!("4xx"), &json!(1), &json!(0))
        );
        assert!(
            unauthorized.get("BatchSize").is_none(),
            "only batch requests have a size"
        );
        let expired: Value = serde_json::from_str(&metrics(403, Counted::default()).to_emf(0)).unwrap();
        assert_eq!((&expired["Status401"], &expired["Status403"]), (&json!(0), &json!(1)));
    }

    #[tokio::test]
    async fn counters_belong_to_the_request_they_were_counted_in() {
        count_dynamodb_call(); // outside any request: ignored
        let ((), counted) = measured(async {
            count_dynamodb_call();
            count_dynamodb_attempt();
            count_dynamodb_attempt();
            count_dynamodb_resend();
            count_im_call();
            record_batch_size(3);
        })
        .await;
        assert_eq!(
            counted,
            Counted {
                dynamodb_calls: 1,
                dynamodb_retries: 2,
                im_calls: 1,
                batch_size: Some(3)
            }
        );
        let ((), fresh) = measured(async {}).await;
        assert_eq!(fresh, Counted::default());
    }
}
