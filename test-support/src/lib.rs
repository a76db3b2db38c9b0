//! What the tests of qnlive-user-api share, in one place: the API tests
//! (`tests/api`), the import's tests, the library's own unit tests, the
//! examples the scripts run and the fuzz targets.
//!
//! - [`event`]: API Gateway HTTP API (2.0) events, built as API Gateway
//!   builds them.
//! - [`fake_im`]: a fake Lanying IM server, with faults set at run time.
//! - [`fault_proxy`]: a fault-injecting proxy between the SDK and DynamoDB
//!   Local.
//! - [`local_secrets`]: a gate in front of the local Secrets Manager that
//!   counts, shuts or stalls the function's reads.
//! - [`dynamodb_local`]: where DynamoDB Local is, and the guard that no test
//!   ever reaches a real table.
//! - [`http_server`]: the server loop the three servers above share.
//! - [`qiniu_token`]: the contract's signature, written out independently
//!   of the service's `auth` module.

pub mod dynamodb_local;
pub mod event;
pub mod fake_im;
pub mod fault_proxy;
pub mod http_server;
pub mod local_secrets;
pub mod qiniu_token;
