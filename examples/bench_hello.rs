//! Benchmark reference (BENCHMARKS.md): the smallest `lambda_http` function,
//! built with this crate's release profile and dependency features, to
//! compare cold starts and memory against.

use lambda_http::{service_fn, Body, Error, Request, Response};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    lambda_http::run(service_fn(|_request: Request| async {
        Ok::<_, Error>(Response::new(Body::Text(r#"{"code":0,"message":"hello"}"#.into())))
    }))
    .await
}
