//! Logging, set up once at start-up: JSON lines when Lambda's log format is
//! JSON (`AWS_LAMBDA_LOG_FORMAT`), text otherwise; the level from
//! `AWS_LAMBDA_LOG_LEVEL`, else `RUST_LOG`, else INFO.
//!
//! Whatever level is asked for, every crate but this one logs at INFO at
//! most: at DEBUG and TRACE the Lambda runtime and the AWS SDK print whole
//! events (with the `Authorization` header) and DynamoDB items (with
//! `im_password`), and secrets must never reach a log.

use tracing::level_filters::LevelFilter;
use tracing_subscriber::filter::{FilterExt, Targets};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::Layer;

/// The only crate allowed below INFO: this one, which never logs secrets.
const OWN_CRATE: &str = "qnlive_user_api";

#[derive(Clone, Debug)]
pub struct LogSettings {
    pub json: bool,
    /// A level (`info`), or directives like `info,qnlive_user_api=debug`
    /// (tracing-subscriber's `Targets` syntax: no regular expressions).
    pub filter: String,
}

impl LogSettings {
    pub fn from_env() -> Self {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// The settings from any variable source, so that tests do not have to
    /// change the process environment.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Self {
        let var = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
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
    // An allow-list: every other crate (runtime, SDK, HTTP, TLS, and any
    // added later) stops at INFO.
    let cap = Targets::new()
        .with_default(LevelFilter::INFO)
        .with_target(OWN_CRATE, LevelFilter::TRACE);
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

/// Displays an error with every cause after it, `outer: inner: root`, so
/// that one log line carries the whole story (an SDK error's own `Display`
/// is only "service error").
pub struct ErrorChain<'a>(pub &'a (dyn std::error::Error + 'a));

impl std::fmt::Display for ErrorChain<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)?;
        let mut source = self.0.source();
        while let Some(cause) = source {
            write!(f, ": {cause}")?;
            source = cause.source();
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct Layer(&'static str, Option<Box<Layer>>);

    impl std::fmt::Display for Layer {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str(self.0)
        }
    }

    impl std::error::Error for Layer {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            self.1.as_deref().map(|inner| inner as _)
        }
    }

    fn settings(vars: &[(&str, &str)]) -> LogSettings {
        LogSettings::from_lookup(|name| vars.iter().find(|(k, _)| *k == name).map(|(_, v)| v.to_string()))
    }

    #[test]
    fn the_level_comes_from_lambda_then_rust_log_then_info() {
        assert_eq!(settings(&[]).filter, "info");
        assert_eq!(settings(&[("RUST_LOG", "debug")]).filter, "debug");
        let both = [("AWS_LAMBDA_LOG_LEVEL", "WARN"), ("RUST_LOG", "debug")];
        assert_eq!(settings(&both).filter, "WARN");
        // A blank variable is no setting: the next source decides.
        let blank = [("AWS_LAMBDA_LOG_LEVEL", " "), ("RUST_LOG", "debug")];
        assert_eq!(settings(&blank).filter, "debug");
    }

    #[test]
    fn json_lines_only_when_lambdas_log_format_is_json() {
        assert!(!settings(&[]).json);
        assert!(settings(&[("AWS_LAMBDA_LOG_FORMAT", "JSON")]).json);
        assert!(!settings(&[("AWS_LAMBDA_LOG_FORMAT", "Text")]).json);
    }

    /// The only test in this binary that installs a global subscriber; it
    /// writes nowhere, so other tests' output is unchanged.
    #[test]
    fn init_installs_the_global_subscriber_once() {
        let settings = settings(&[]);
        assert!(init(&settings, std::io::sink), "the first subscriber is installed");
        assert!(!init(&settings, std::io::sink), "a second one is refused");
    }

    #[test]
    fn an_error_chain_shows_every_cause_in_order() {
        let error = Layer(
            "outer",
            Some(Box::new(Layer("middle", Some(Box::new(Layer("root", None)))))),
        );
        assert_eq!(ErrorChain(&error).to_string(), "outer: middle: root");
    }
}
