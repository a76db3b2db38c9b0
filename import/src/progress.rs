//! Progress on stderr: a bar with rows/s and ETA on a terminal, a plain line
//! every few seconds otherwise (a log, CI, a pipe).

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

const PLAIN_EVERY: Duration = Duration::from_secs(5);
const TEMPLATE: &str = "{elapsed_precise} [{wide_bar}] {pos}/{len} rows, {per_sec}, ETA {eta}";

pub struct Progress {
    total: u64,
    done: u64,
    started: Instant,
    output: Output,
}

enum Output {
    Bar(ProgressBar),
    Plain { next_line: Instant },
}

impl Progress {
    /// `total`: the rows counted before the run (more may arrive).
    pub fn new(total: u64) -> Self {
        let started = Instant::now();
        let output = if std::io::stderr().is_terminal() {
            let style = ProgressStyle::with_template(TEMPLATE).unwrap_or_else(|_| ProgressStyle::default_bar());
            Output::Bar(ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr()).with_style(style))
        } else {
            Output::Plain {
                next_line: started + PLAIN_EVERY,
            }
        };
        Progress {
            total,
            done: 0,
            started,
            output,
        }
    }

    /// `rows` more rows are settled (skipped, invalid, or written).
    pub fn advance(&mut self, rows: u64) {
        self.done += rows;
        self.total = self.total.max(self.done);
        match &mut self.output {
            Output::Bar(bar) => {
                bar.set_length(self.total);
                bar.set_position(self.done);
            }
            Output::Plain { next_line } => {
                let now = Instant::now();
                if now >= *next_line {
                    *next_line = now + PLAIN_EVERY;
                    let line = plain_line(self.done, self.total, now - self.started);
                    let _ = writeln!(std::io::stderr(), "{line}");
                }
            }
        }
    }

    pub fn finish(self) {
        if let Output::Bar(bar) = self.output {
            bar.finish_and_clear();
        }
    }
}

/// `progress: 12000/100000 rows (12%), 2400 rows/s, about 37 s left`
pub fn plain_line(done: u64, total: u64, elapsed: Duration) -> String {
    let rate = done as f64 / elapsed.as_secs_f64().max(0.001);
    let percent = (done * 100).checked_div(total).unwrap_or(100);
    let left = if rate > 0.0 {
        format!("about {:.0} s left", total.saturating_sub(done) as f64 / rate)
    } else {
        "time left unknown".to_owned()
    };
    format!("progress: {done}/{total} rows ({percent}%), {rate:.0} rows/s, {left}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_lines_give_rate_and_time_left() {
        assert_eq!(
            plain_line(12_000, 100_000, Duration::from_secs(5)),
            "progress: 12000/100000 rows (12%), 2400 rows/s, about 37 s left"
        );
        assert_eq!(
            plain_line(0, 0, Duration::ZERO),
            "progress: 0/0 rows (100%), 0 rows/s, time left unknown"
        );
    }
}
