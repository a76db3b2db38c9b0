//! `qnlive-user-import`: the original QNLiveKit service's MySQL users into
//! this service's DynamoDB table (docs/MIGRATION.md).
//!
//! The report goes to stdout, progress and errors to stderr. An error is
//! one line, `qnlive-user-import: error: ...`, with exit status 1; it never
//! holds the MySQL password.

mod classify;
mod dynamodb;
mod options;
mod progress;
mod report;
mod run;
mod source;

use options::Command;
use percent_encoding::percent_decode_str;
use report::Report;
use std::io::Write;
use std::process::ExitCode;

fn main() -> ExitCode {
    let command = options::parse(std::env::args_os().skip(1), |name| std::env::var(name).ok());
    let options = match command {
        Ok(Command::Import(options)) => options,
        Ok(Command::Help) => {
            print!("{}", options::USAGE);
            return ExitCode::SUCCESS;
        }
        Ok(Command::Version) => {
            println!("qnlive-user-import {}", env!("CARGO_PKG_VERSION"));
            return ExitCode::SUCCESS;
        }
        Err(message) => return fail(&message, &[]),
    };
    let mut secrets = url_passwords(&options.mysql_url);
    secrets.extend(options.mysql_password.clone());
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => return fail(&format!("cannot start the async runtime: {e}"), &secrets),
    };
    let mut report = Report::default();
    let result = runtime.block_on(run::import(&options, &mut report));
    if result.is_ok() || report.rows > 0 {
        let mut stdout = std::io::stdout().lock();
        let _ = stdout.write_all(redact(&report.render(), &secrets).as_bytes());
        let _ = stdout.flush();
    }
    // Writes still in flight after an error are not waited for.
    runtime.shutdown_background();
    match result {
        Ok(()) => ExitCode::from(report.exit_code()),
        Err(message) => fail(&message, &secrets),
    }
}

fn fail(message: &str, secrets: &[String]) -> ExitCode {
    let line = redact(message, secrets).replace(['\n', '\r'], " ");
    eprintln!("qnlive-user-import: error: {line}");
    ExitCode::FAILURE
}

/// The password of a `scheme://user:password@host/...` URL, as written
/// and percent-decoded, for [`redact`].
fn url_passwords(url: &str) -> Vec<String> {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let Some((userinfo, _)) = authority.rsplit_once('@') else {
        return Vec::new();
    };
    let Some((_, password)) = userinfo.split_once(':') else {
        return Vec::new();
    };
    let decoded = percent_decode_str(password).decode_utf8_lossy().into_owned();
    vec![password.to_owned(), decoded]
}

/// Belt and braces: no message this tool writes contains a password, and
/// none that passes through here can.
fn redact(text: &str, secrets: &[String]) -> String {
    secrets
        .iter()
        .filter(|secret| secret.len() >= 3)
        .fold(text.to_owned(), |text, secret| text.replace(secret.as_str(), "***"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_found_in_urls_and_redacted() {
        assert_eq!(url_passwords("mysql://u:p%40ss@h:1/db"), ["p%40ss", "p@ss"]);
        assert_eq!(url_passwords("mysql://u:a@b@h/db?x=@"), ["a@b", "a@b"]);
        assert!(url_passwords("mysql://u@h/db").is_empty());
        assert!(url_passwords("mysql://h/db:x@y").is_empty());
        assert_eq!(url_passwords("mysql://u:%e7%94%a8%2@h/db")[1], "用%2");
        let secrets = url_passwords("mysql://u:p%40ss@h/db");
        assert_eq!(redact("login p@ss or p%40ss, ab", &secrets), "login *** or ***, ab");
        assert_eq!(redact("ab ab", &["ab".into()]), "ab ab");
    }
}
