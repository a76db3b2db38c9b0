//! The report on stdout: every row not imported that needs a look (invalid,
//! conflict, failed), one line each in id order, then the counts.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

#[derive(Debug, Default)]
pub struct Report {
    pub dry_run: bool,
    /// False when an error stopped the run early.
    pub complete: bool,
    pub rows: u64,
    pub imported: u64,
    pub already_present: u64,
    pub deleted: u64,
    pub invalid: Vec<Listed>,
    pub conflicts: Vec<Listed>,
    pub failed: Vec<Listed>,
    /// What the IM-id counter was raised to (at least), if anything.
    pub counter: Option<i64>,
    pub elapsed: Duration,
    /// Where the time went: waiting for the next MySQL page (the reading
    /// runs ahead), and for DynamoDB with every write slot taken.
    pub waited_for_mysql: Duration,
    pub waited_for_dynamodb: Duration,
}

/// A row in the report: its MySQL id, its user id as stored, and why.
#[derive(Debug, Clone, PartialEq)]
pub struct Listed {
    pub id: u64,
    pub user_id: String,
    pub detail: String,
}

impl Listed {
    /// `user_id` is shown quoted with escapes (control characters stay
    /// visible), `NULL` when absent.
    pub fn new(id: u64, user_id: Option<&[u8]>, detail: String) -> Self {
        let user_id = user_id.map_or("NULL".to_owned(), |id| format!("{:?}", String::from_utf8_lossy(id)));
        Listed { id, user_id, detail }
    }
}

impl Report {
    /// Exit status: 2 when some rows could not be written (a rerun
    /// retries them), else 0.
    pub fn exit_code(&self) -> u8 {
        if self.failed.is_empty() {
            0
        } else {
            2
        }
    }

    pub fn render(&mut self) -> String {
        let mut out = String::new();
        for (kind, key, rows) in [
            ("invalid", "reasons", &mut self.invalid),
            ("conflict", "differs", &mut self.conflicts),
            ("failed", "error", &mut self.failed),
        ] {
            rows.sort_by_key(|row| row.id);
            for row in rows.iter() {
                let _ = writeln!(
                    out,
                    "{kind:<9} id={}  {key}={}  user_id={}",
                    row.id, row.detail, row.user_id
                );
            }
        }
        let mut by_reason: BTreeMap<&str, u64> = BTreeMap::new();
        for reason in self.invalid.iter().flat_map(|row| row.detail.split(',')) {
            *by_reason.entry(reason).or_default() += 1;
        }
        let by_reason: Vec<String> = by_reason.iter().map(|(reason, n)| format!("{reason} {n}")).collect();
        let secs = self.elapsed.as_secs_f64();
        let rate = self.rows as f64 / secs.max(0.001);
        let _ = writeln!(
            out,
            "summary{}: {} rows in {secs:.2} s, {rate:.0} rows/s",
            if self.complete {
                ""
            } else {
                " (incomplete: the run stopped early)"
            },
            self.rows
        );
        let imported = if self.dry_run { "would import" } else { "imported" };
        let counts = [
            (imported, self.imported, String::new()),
            ("already present", self.already_present, String::new()),
            ("conflicts", self.conflicts.len() as u64, String::new()),
            ("invalid", self.invalid.len() as u64, optional_list(&by_reason)),
            ("skipped (deleted)", self.deleted, String::new()),
            (
                "failed",
                self.failed.len() as u64,
                if self.failed.is_empty() {
                    String::new()
                } else {
                    "  (run again to retry them)".into()
                },
            ),
        ];
        for (label, n, extra) in counts {
            let _ = writeln!(out, "  {label:<18} {n}{extra}");
        }
        let counter = match (self.counter, self.dry_run) {
            (None, _) => "unchanged".to_owned(),
            (Some(n), false) => format!("at least {n}"),
            (Some(n), true) => format!("would be raised to at least {n}"),
        };
        let _ = writeln!(out, "  {:<18} {counter}", "IM-id counter");
        let _ = writeln!(
            out,
            "  {:<18} MySQL {:.2} s, DynamoDB {:.2} s",
            "waited for",
            self.waited_for_mysql.as_secs_f64(),
            self.waited_for_dynamodb.as_secs_f64()
        );
        if self.dry_run {
            out.push_str("dry run: nothing was written\n");
        }
        out
    }
}

fn optional_list(items: &[String]) -> String {
    if items.is_empty() {
        String::new()
    } else {
        format!("  ({})", items.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_in_id_order_then_the_counts() {
        let mut report = Report {
            complete: true,
            rows: 10,
            imported: 4,
            already_present: 1,
            deleted: 2,
            invalid: vec![
                Listed::new(9, Some(b"a\tb"), "user_id_control_character,im_userid_missing".into()),
                Listed::new(3, None, "user_id_null".into()),
            ],
            conflicts: vec![Listed::new(5, Some("张伟".as_bytes()), "im_password,nick".into())],
            counter: Some(42),
            elapsed: Duration::from_secs(2),
            waited_for_mysql: Duration::from_millis(250),
            waited_for_dynamodb: Duration::from_millis(1500),
            ..Report::default()
        };
        assert_eq!(report.exit_code(), 0);
        let expected = "\
invalid   id=3  reasons=user_id_null  user_id=NULL
invalid   id=9  reasons=user_id_control_character,im_userid_missing  user_id=\"a\\tb\"
conflict  id=5  differs=im_password,nick  user_id=\"张伟\"
summary: 10 rows in 2.00 s, 5 rows/s
  imported           4
  already present    1
  conflicts          1
  invalid            2  (im_userid_missing 1, user_id_control_character 1, user_id_null 1)
  skipped (deleted)  2
  failed             0
  IM-id counter      at least 42
  waited for         MySQL 0.25 s, DynamoDB 1.50 s
";
        assert_eq!(report.render(), expected);
    }

    #[test]
    fn dry_runs_and_failures_say_so() {
        let mut report = Report {
            dry_run: true,
            rows: 1,
            failed: vec![Listed::new(1, Some(b"u"), "\"DynamoDB unavailable\"".into())],
            counter: Some(7),
            ..Report::default()
        };
        assert_eq!(report.exit_code(), 2);
        let text = report.render();
        for line in [
            "failed    id=1  error=\"DynamoDB unavailable\"  user_id=\"u\"\n",
            "summary (incomplete: the run stopped early): 1 rows in",
            "  would import       0\n",
            "  failed             1  (run again to retry them)\n",
            "  IM-id counter      would be raised to at least 7\n",
            "dry run: nothing was written\n",
        ] {
            assert!(text.contains(line), "{line:?} in\n{text}");
        }
        report.counter = None;
        assert!(report.render().contains("  IM-id counter      unchanged\n"));
    }
}
