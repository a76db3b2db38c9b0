//! Benchmark reference (BENCHMARKS.md): `examples/bench_getitem.rs`, the
//! GetItem function as users write it, primed at init the way an expert
//! writes it: one cheap call before the runtime loop starts. Lambda runs
//! init on a full CPU and requests on a share of one in proportion to the
//! memory (about 7 % at 128 MB), so the credentials, the TCP connection
//! and the TLS handshake are paid for where CPU is plentiful, and the first
//! request finds the connection open. Everything else is the same code.

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
    // The priming call: its answer does not matter (a missing item, even an
    // error, still leaves the connection open), so it must not fail init.
    let _ = client
        .get_item()
        .table_name(&table)
        .key("pk", AttributeValue::S("USER#prime".into()))
        .send()
        .await;
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
