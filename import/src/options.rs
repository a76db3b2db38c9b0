//! The command line. Every message is written here, never lexopt's: those
//! would repeat the argument, and a misplaced URL holds the password.

use std::ffi::OsString;
use time::UtcOffset;

pub const USAGE: &str = "\
Imports the users of the original QNLiveKit service (its MySQL table live_users)
into the DynamoDB users table of qnlive-user-api. Never overwrites a stored user;
safe to interrupt and to run again (see docs/MIGRATION.md).

usage: qnlive-user-import --mysql-url mysql://USER[:PASS]@HOST[:PORT]/DB [options]

  --mysql-url URL     the original's database. The password may be left out of the
                      URL and given in MYSQL_PASSWORD instead (the URL's wins).
                      TLS: ?require_ssl=true (server certificate checked against
                      the Mozilla roots; &verify_ca=false to skip that check)
  --mysql-table NAME  the users table (default live_users)
  --users-table NAME  the DynamoDB table (default: $USERS_TABLE)
  --time-zone ZONE    the zone the DATETIMEs were written in: UTC (default) or an
                      offset like +08:00 (the Go service wrote Asia/Shanghai time)
  --dry-run           read and check everything, look up DynamoDB, write nothing
  --page-size N       MySQL rows per page (default 1000)
  --concurrency N     DynamoDB writes in flight (default 64)
  -h, --help          this text
  -V, --version       the version

AWS credentials and region as the AWS CLI finds them: AWS_PROFILE (a profile
in ~/.aws/config: SSO or a role to assume), or AWS_REGION,
AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN; web identity,
container and instance credentials too. AWS_ENDPOINT_URL_DYNAMODB for
DynamoDB Local.
Exit status: 0 done (conflicts and invalid rows are listed, not errors);
2 done but some rows could not be written (run again); 1 stopped by an error.
";

pub const DEFAULT_MYSQL_TABLE: &str = "live_users";
pub const DEFAULT_PAGE_SIZE: u32 = 1000;
pub const DEFAULT_CONCURRENCY: usize = 64;
const MAX_PAGE_SIZE: u32 = 50_000;
const MAX_CONCURRENCY: usize = 1024;

#[derive(Clone, PartialEq)]
pub struct Options {
    /// Holds the password: never printed (hence no `Debug`).
    pub mysql_url: String,
    /// From `MYSQL_PASSWORD`, for a URL without one.
    pub mysql_password: Option<String>,
    pub mysql_table: String,
    pub users_table: String,
    pub time_zone: UtcOffset,
    pub dry_run: bool,
    pub page_size: u32,
    pub concurrency: usize,
    /// For the tests only, and only in debug builds (the release binary
    /// does not know the flag): abort the process, as a crash would, once
    /// this many writes have been started.
    #[cfg(debug_assertions)]
    pub crash_after_writes: Option<u64>,
}

#[derive(PartialEq)]
pub enum Command {
    Import(Options),
    Help,
    Version,
}

/// `args` without the program name; `env` reads a variable.
pub fn parse(
    args: impl IntoIterator<Item = OsString>,
    env: impl Fn(&str) -> Option<String>,
) -> Result<Command, String> {
    use lexopt::prelude::*;
    let mut parser = lexopt::Parser::from_args(args);
    let (mut url, mut mysql_table, mut users_table) = (None, None, None);
    let (mut time_zone, mut dry_run) = (UtcOffset::UTC, false);
    #[cfg(debug_assertions)]
    let mut crash = None;
    let (mut page_size, mut concurrency) = (DEFAULT_PAGE_SIZE, DEFAULT_CONCURRENCY);
    loop {
        let arg = match parser.next() {
            Ok(Some(arg)) => arg,
            Ok(None) => break,
            Err(lexopt::Error::UnexpectedValue { option, .. }) => return Err(format!("{option} takes no value")),
            Err(_) => return Err("malformed arguments (see --help)".into()),
        };
        let name = match &arg {
            Long(name) => format!("--{name}"),
            Short(c) => format!("-{c}"),
            Value(_) => return Err("unexpected argument: options are named, e.g. --mysql-url URL (see --help)".into()),
        };
        match arg {
            Short('h') | Long("help") => return Ok(Command::Help),
            Short('V') | Long("version") => return Ok(Command::Version),
            Long("dry-run") => dry_run = true,
            Long("mysql-url") => url = Some(text(parser.value(), &name)?),
            Long("mysql-table") => mysql_table = Some(table_name(text(parser.value(), &name)?, &name, 1)?),
            Long("users-table") => users_table = Some(table_name(text(parser.value(), &name)?, &name, 3)?),
            Long("time-zone") => time_zone = parse_time_zone(&text(parser.value(), &name)?)?,
            Long("page-size") => page_size = number(parser.value(), &name, 1, MAX_PAGE_SIZE)?,
            Long("concurrency") => concurrency = number(parser.value(), &name, 1, MAX_CONCURRENCY)?,
            #[cfg(debug_assertions)]
            Long("crash-after-writes") => crash = Some(number(parser.value(), &name, 0, u64::MAX)?),
            _ => return Err(format!("unknown option {name} (see --help)")),
        }
    }
    let mysql_url = url.ok_or("--mysql-url is required (see --help)")?;
    let users_table = match users_table {
        Some(table) => table,
        None => table_name(env("USERS_TABLE").unwrap_or_default(), "USERS_TABLE", 3)
            .map_err(|_| "give the DynamoDB table with --users-table NAME or USERS_TABLE")?,
    };
    Ok(Command::Import(Options {
        mysql_url,
        mysql_password: env("MYSQL_PASSWORD").filter(|p| !p.is_empty()),
        mysql_table: mysql_table.unwrap_or_else(|| DEFAULT_MYSQL_TABLE.into()),
        users_table,
        time_zone,
        dry_run,
        page_size,
        concurrency,
        #[cfg(debug_assertions)]
        crash_after_writes: crash,
    }))
}

fn text(value: Result<OsString, lexopt::Error>, name: &str) -> Result<String, String> {
    value
        .map_err(|_| format!("{name} needs a value"))?
        .into_string()
        .map_err(|_| format!("{name}: not valid UTF-8"))
}

fn number<T: std::str::FromStr + PartialOrd + std::fmt::Display>(
    value: Result<OsString, lexopt::Error>,
    name: &str,
    min: T,
    max: T,
) -> Result<T, String> {
    let value = text(value, name)?;
    match value.parse::<T>() {
        Ok(n) if n >= min && n <= max => Ok(n),
        _ => Err(format!("{name}: give a whole number from {min} to {max}")),
    }
}

/// A name of `min..=255` characters that needs no quoting anywhere:
/// letters, digits, `_`, `-`, `.` (DynamoDB's alphabet; it wants 3 or more).
fn table_name(name: String, what: &str, min: usize) -> Result<String, String> {
    let fine = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.');
    if name.len() < min || name.len() > 255 || !name.chars().all(fine) {
        return Err(format!(
            "{what}: a table name of {min} to 255 letters, digits, '_', '-' or '.'"
        ));
    }
    Ok(name)
}

/// `UTC`, `Z`, or `+HH:MM` / `-HH:MM` / `+HH`.
pub fn parse_time_zone(zone: &str) -> Result<UtcOffset, String> {
    let bad = || format!("--time-zone: give UTC or an offset like +08:00, not {zone:?}");
    if zone.eq_ignore_ascii_case("utc") || zone == "Z" {
        return Ok(UtcOffset::UTC);
    }
    let (sign, rest) = match zone.as_bytes().first() {
        Some(b'+') => (1, &zone[1..]),
        Some(b'-') => (-1, &zone[1..]),
        _ => return Err(bad()),
    };
    let (hours, minutes) = rest.split_once(':').unwrap_or((rest, "0"));
    let digits = |s: &str, max: i8| match s.parse::<i8>() {
        Ok(n) if (1..=2).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit()) && n <= max => Ok(n),
        _ => Err(bad()),
    };
    let (hours, minutes) = (digits(hours, 23)?, digits(minutes, 59)?);
    UtcOffset::from_hms(sign * hours, sign * minutes, 0).map_err(|_| bad())
}

#[cfg(test)]
mod tests {
    use super::*;

    const URL: &str = "mysql://u:secret-pw@127.0.0.1:3306/db";

    fn run(args: &[&str], env: &[(&str, &str)]) -> Result<Command, String> {
        let env: Vec<(String, String)> = env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        parse(args.iter().map(OsString::from), move |name| {
            env.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
        })
    }

    fn options(args: &[&str], env: &[(&str, &str)]) -> Options {
        match run(args, env) {
            Ok(Command::Import(options)) => options,
            Ok(_) => panic!("not an import"),
            Err(e) => panic!("{e}"),
        }
    }

    #[test]
    fn defaults_and_the_table_from_the_environment() {
        let o = options(&["--mysql-url", URL], &[("USERS_TABLE", "users")]);
        assert_eq!((o.mysql_url.as_str(), o.users_table.as_str()), (URL, "users"));
        assert_eq!((o.mysql_table.as_str(), o.time_zone), ("live_users", UtcOffset::UTC));
        assert_eq!((o.dry_run, o.page_size, o.concurrency), (false, 1000, 64));
        assert_eq!((o.mysql_password, o.crash_after_writes), (None, None));
    }

    #[test]
    fn every_option() {
        let o = options(
            &[
                "--mysql-url=mysql://h/db",
                "--users-table",
                "t-1.x",
                "--mysql-table",
                "old_users",
                "--time-zone",
                "+08:00",
                "--dry-run",
                "--page-size",
                "50000",
                "--concurrency",
                "1",
                "--crash-after-writes",
                "7",
            ],
            &[("USERS_TABLE", "ignored"), ("MYSQL_PASSWORD", "pw")],
        );
        assert_eq!((o.users_table.as_str(), o.mysql_table.as_str()), ("t-1.x", "old_users"));
        assert_eq!(o.time_zone, UtcOffset::from_hms(8, 0, 0).unwrap());
        assert_eq!((o.dry_run, o.page_size, o.concurrency), (true, 50_000, 1));
        assert_eq!(
            (o.mysql_password.as_deref(), o.crash_after_writes),
            (Some("pw"), Some(7))
        );
        assert!(matches!(run(&["--help"], &[]), Ok(Command::Help)));
        assert!(matches!(run(&["-V", "--bogus"], &[]), Ok(Command::Version)));
    }

    #[test]
    fn errors_never_repeat_an_argument() {
        let cases: [(&[&str], &str); 9] = [
            (&[], "--mysql-url is required"),
            (&["--mysql-url", URL], "--users-table NAME or USERS_TABLE"),
            (&[URL], "unexpected argument"),
            (&["--mysql-url"], "--mysql-url needs a value"),
            (&["--mysql-url", URL, "--bogus"], "unknown option --bogus"),
            (&["--dry-run=secret-pw"], "--dry-run takes no value"),
            (
                &["--mysql-url", URL, "--users-table", "a/b"],
                "--users-table: a table name",
            ),
            (
                &["--page-size", "0"],
                "--page-size: give a whole number from 1 to 50000",
            ),
            (
                &["--concurrency", "1025"],
                "--concurrency: give a whole number from 1 to 1024",
            ),
        ];
        for (args, expected) in cases {
            let error = run(args, &[]).err().unwrap_or_default();
            assert!(error.contains(expected), "{args:?}: {error}");
            assert!(!error.contains("secret-pw"), "{error}");
        }
        for (option, short, long) in [("--users-table", "ab", "abc"), ("--mysql-table", "", "a")] {
            let error = run(&["--mysql-url", URL, option, short], &[]).err().unwrap();
            assert!(error.contains("a table name"), "{error}");
            assert!(run(&["--mysql-url", URL, option, long, "--users-table", "abc"], &[]).is_ok());
            assert!(run(
                &["--mysql-url", URL, option, &"x".repeat(255), "--users-table", "abc"],
                &[]
            )
            .is_ok());
            assert!(run(&["--mysql-url", URL, option, &"x".repeat(256)], &[]).is_err());
        }
    }

    #[test]
    fn time_zones() {
        let offset = |h, m| UtcOffset::from_hms(h, m, 0).unwrap();
        for (zone, expected) in [
            ("UTC", UtcOffset::UTC),
            ("utc", UtcOffset::UTC),
            ("Z", UtcOffset::UTC),
            ("+08:00", offset(8, 0)),
            ("+8", offset(8, 0)),
            ("-03:30", offset(-3, -30)),
            ("+23:59", offset(23, 59)),
            ("-00:00", UtcOffset::UTC),
        ] {
            assert_eq!(parse_time_zone(zone), Ok(expected), "{zone}");
        }
        for bad in [
            "",
            "+",
            "08:00",
            "+24:00",
            "+08:60",
            "+008:00",
            "+08:0x",
            "Asia/Shanghai",
            "+-1",
            "+ 8",
        ] {
            assert!(parse_time_zone(bad).is_err(), "{bad}");
        }
    }
}
