//! Logging, set up once at start-up: JSON lines when Lambda's log format is
//! JSON (`AWS_LAMBDA_LOG_FORMAT`), text otherwise; the level from
//! `AWS_LAMBDA_LOG_LEVEL`, else `RUST_LOG`, else INFO.
//!
//! Whatever level is asked for, the Lambda runtime and the AWS SDK log at
//! INFO at most: at DEBUG and TRACE they print whole events (with the
//! `Authorization` header) and DynamoDB items (with `im_password`), and
//! secrets must never reach a log.

use tracing::level_filters::LevelFilter;
use tracing_subscriber::filter::{FilterExt, Targets};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::Layer;

/// Crates whose verbose levels log request or response contents.
const CAPPED_AT_INFO: &[&str] = &[
    "lambda_runtime",
    "lambda_runtime_api_client",
    "lambda_http",
    "aws_config",
    "aws_runtime",
    "aws_sdk_dynamodb",
    "aws_sdk_sts",
    "aws_smithy_runtime",
    "aws_smithy_runtime_api",
    "aws_smithy_http_client",
    "aws_smithy_http",
    "aws_smithy_json",
    "aws_smithy_types",
    "aws_sigv4",
    "hyper",
    "hyper_util",
    "h2",
    "rustls",
];

#[derive(Clone, Debug)]
pub struct LogSettings {
    pub json: bool,
    /// A level (`info`), or directives like `info,qnlive_user_api=debug`
    /// (tracing-subscriber's `Targets` syntax: no regular expressions).
    pub filter: String,
}

impl LogSettings {
    pub fn from_env() -> Self {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        LogSettings {
            json: var("AWS_LAMBDA_LOG_FORMAT").is_some_and(|f| f.eq_ignore_ascii_case("json")),
            filter: var("AWS_LAMBDA_LOG_LEVEL")
                .or_else(|| var("RUST_LOG"))
                .unwrap_or_else(|| "info".into()),
        }
    }
}

/// Installs the global subscriber, writing to `writer`. Returns false if one
/// was already installed.
pub fn init<W>(settings: &LogSettings, writer: W) -> bool
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    // Lambda's level names are upper case and include FATAL.
    let directives = settings.filter.to_ascii_lowercase().replace("fatal", "error");
    let requested: Targets = directives
        .parse()
        .unwrap_or_else(|_| Targets::new().with_default(LevelFilter::INFO));
    let cap = Targets::new()
        .with_default(LevelFilter::TRACE)
        .with_targets(CAPPED_AT_INFO.iter().map(|target| (*target, LevelFilter::INFO)));
    let filter = requested.and(cap);

    let fmt = tracing_subscriber::fmt::layer()
        .with_writer(writer)
        .with_target(false)
        .without_time() // Lambda timestamps every line
        .with_ansi(false);
    let layer = if settings.json {
        fmt.json().with_filter(filter).boxed()
    } else {
        fmt.with_filter(filter).boxed()
    };
    tracing_subscriber::registry().with(layer).try_init().is_ok()
}
