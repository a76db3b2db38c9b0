//! The test suite's API Gateway event builder (the test-support crate's
//! `event`) as a filter, so that the benchmarks (bench/bench.py) send exactly the
//! events the tests and fuzz targets build.
//!
//! Reads one request per line on stdin,
//! `{"method", "path", "query", "headers": [[name, value], ...], "body": str|null, "request_id"}`,
//! and writes one HTTP API (payload 2.0) event per line on stdout.

use qnlive_test_support::event::HttpApiEvent;
use serde_json::Value;
use std::io::{BufRead, Write};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut out = std::io::stdout().lock();
    for line in std::io::stdin().lock().lines() {
        let request: Value = serde_json::from_str(&line?)?;
        let text = |name: &str| request[name].as_str().unwrap_or_default().to_owned();
        let headers: Vec<(String, String)> = request["headers"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|pair| Some((pair[0].as_str()?.to_owned(), pair[1].as_str()?.to_owned())))
            .collect();
        let event = HttpApiEvent::new(&text("method"), &text("path"))
            .query(&text("query"))
            .headers(&headers)
            .body(text("body").as_bytes())
            .request_id(&text("request_id"))
            .to_json();
        writeln!(out, "{event}")?;
        out.flush()?;
    }
    Ok(())
}
