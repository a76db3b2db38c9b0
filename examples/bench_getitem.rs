//! Benchmark reference (BENCHMARKS.md): a plain function on `lambda_http`,
//! `aws-config` and `aws-sdk-dynamodb`, written the usual way (default SDK
//! timeouts and retries, client made in `main`, nothing warmed up), that
//! answers every request with one `GetItem` from `USERS_TABLE`.

use aws_sdk_dynamodb::types::AttributeValue;
use lambda_http::{service_fn, Body, Error, Request, Response};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    // The one HTTPS stack this crate's features allow (no SDK default client).
    let http_client = aws_smithy_http_client::Builder::new()
        .tls_provider(aws_smithy_http_client::tls::Provider::Rustls(
            aws_smithy_http_client::tls::rustls_provider::CryptoMode::Ring,
        ))
        .build_https();
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .http_client(http_client)
        .load()
        .await;
    let client = aws_sdk_dynamodb::Client::new(&config);
    let table = std::env::var("USERS_TABLE")?;
    let (client, table) = (&client, table.as_str());
    lambda_http::run(service_fn(move |_request: Request| async move {
        let item = client
            .get_item()
            .table_name(table)
            .key("pk", AttributeValue::S("USER#bench".into()))
            .send()
            .await?;
        let found = item.item.is_some();
        Ok::<_, Error>(Response::new(Body::Text(format!(r#"{{"code":0,"found":{found}}}"#))))
    }))
    .await
}
