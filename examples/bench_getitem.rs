//! Benchmark reference (BENCHMARKS.md): a GetItem function as users write
//! it, on `lambda_http`, `aws-config` and `aws-sdk-dynamodb`: the default
//! `#[tokio::main]` runtime, `aws-config`'s default loader (environment,
//! profile files, SSO, IMDS, in that order), the client made in `main` and
//! lent to the handler, nothing warmed up. So its first request resolves
//! the credentials and opens the connection (TCP and TLS), on whatever CPU
//! share Lambda gives requests. `examples/bench_getitem_primed.rs` is the
//! same function primed at init.
//!
//! One line differs from the usual code: this workspace builds the SDK
//! without its default HTTPS client (rustls on aws-lc, a C build), so the
//! client is named: the same hyper + rustls stack, on ring, as the service.

use aws_config::BehaviorVersion;
use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_dynamodb::Client;
use aws_smithy_http_client::tls::{rustls_provider::CryptoMode, Provider};
use lambda_http::{service_fn, Body, Error, Request, Response};

#[tokio::main]
async fn main() -> Result<(), Error> {
    let https = aws_smithy_http_client::Builder::new()
        .tls_provider(Provider::Rustls(CryptoMode::Ring))
        .build_https();
    let config = aws_config::defaults(BehaviorVersion::latest())
        .http_client(https)
        .load()
        .await;
    let client = Client::new(&config);
    let table = std::env::var("USERS_TABLE")?;
    lambda_http::run(service_fn(|request| get_user(&client, &table, request))).await
}

async fn get_user(client: &Client, table: &str, _request: Request) -> Result<Response<Body>, Error> {
    let item = client
        .get_item()
        .table_name(table)
        .key("pk", AttributeValue::S("USER#bench".into()))
        .send()
        .await?;
    let found = item.item.is_some();
    Ok(Response::new(Body::Text(format!(r#"{{"code":0,"found":{found}}}"#))))
}
