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
    Plain {
        every: Duration,
        next_line: Instant,
        out: Box<dyn Write + Send>,
    },
}

impl Progress {
    /// `total`: the rows counted before the run (more may arrive).
    pub fn new(total: u64) -> Self {
        if !std::io::stderr().is_terminal() {
            return Progress::plain(total, PLAIN_EVERY, Box::new(std::io::stderr()));
        }
        let style = ProgressStyle::with_template(TEMPLATE).unwrap_or_else(|_| ProgressStyle::default_bar());
        let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr()).with_style(style);
        Progress {
            total,
            done: 0,
            started: Instant::now(),
            output: Output::Bar(bar),
        }
    }

    /// A line to `out` now, with the total, then every `every`.
    fn plain(total: u64, every: Duration, mut out: Box<dyn Write + Send>) -> Self {
        let started = Instant::now();
        let _ = writeln!(out, "progress: 0/{total} rows");
        Progress {
            total,
            done: 0,
            started,
            output: Output::Plain {
                every,
                next_line: started + every,
                out,
            },
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
            Output::Plain { every, next_line, out } => {
                let now = Instant::now();
                if now >= *next_line {
                    *next_line = now + *every;
                    let _ = writeln!(out, "{}", plain_line(self.done, self.total, now - self.started));
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

    /// A `Write` whose bytes the test can read afterwards.
    #[derive(Clone, Default)]
    struct Sink(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

    impl Write for Sink {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().write(bytes)
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl Sink {
        /// Each line up to its rate (the rest depends on timing).
        fn lines(&self) -> Vec<String> {
            let text = String::from_utf8(self.0.lock().unwrap().clone()).unwrap();
            text.lines()
                .map(|line| line.split(", ").next().unwrap().to_owned())
                .collect()
        }
    }

    #[test]
    fn plain_progress_counts_rows_and_waits_between_lines() {
        let sink = Sink::default();
        let mut progress = Progress::plain(10, Duration::ZERO, Box::new(sink.clone()));
        progress.advance(3);
        progress.advance(4);
        progress.advance(5);
        assert_eq!(
            sink.lines(),
            [
                "progress: 0/10 rows",
                "progress: 3/10 rows (30%)",
                "progress: 7/10 rows (70%)",
                "progress: 12/12 rows (100%)"
            ]
        );
        let sink = Sink::default();
        let mut progress = Progress::plain(10, Duration::from_millis(200), Box::new(sink.clone()));
        progress.advance(1);
        assert_eq!(sink.lines(), ["progress: 0/10 rows"], "a line before its time");
        std::thread::sleep(Duration::from_millis(250));
        progress.advance(1);
        progress.advance(1);
        assert_eq!(sink.lines(), ["progress: 0/10 rows", "progress: 2/10 rows (20%)"]);
        progress.finish();
    }

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
