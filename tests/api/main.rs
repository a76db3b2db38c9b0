//! The API tests: the real handler, fed API Gateway events through
//! `lambda_http`'s own parser exactly as in Lambda, on tables in DynamoDB
//! Local through the real SDK. One test binary, so that the AWS SDK is
//! linked once.
//!
//! Most tests need DynamoDB Local: run them with `scripts/test.sh`, which
//! starts it and sets `AWS_ENDPOINT_URL_DYNAMODB`; without it they fail at
//! once saying so. `properties` needs nothing; `qiniu_sdk` also needs the
//! official Python SDK, which the script installs.

mod helpers;

mod bad_input;
mod batch;
mod batch_reads;
mod concurrency;
mod endpoints;
mod errors;
mod events;
mod extends_bound;
mod faults;
mod layers;
mod logs;
mod maxim;
mod metrics;
mod openapi;
mod properties;
mod qiniu_sdk;
mod secrets;
