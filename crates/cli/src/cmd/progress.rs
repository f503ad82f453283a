//! `bench`'s live progress line: an indicatif spinner on a terminal, a
//! plain line every second otherwise (logs, CI). It only shows what the
//! load generator reports; the final report is printed by `bench`.

use std::time::Duration;

use super::say;
use indicatif::{ProgressBar, ProgressStyle};
use sockmux_client::Progress;

/// The progress line of one run.
pub struct ProgressDisplay {
    bar: Option<ProgressBar>,
    last: Progress,
}

impl ProgressDisplay {
    /// A spinner when `terminal`, plain lines otherwise.
    pub fn new(terminal: bool) -> Self {
        let bar = terminal.then(|| {
            let bar = ProgressBar::new_spinner();
            bar.set_style(
                ProgressStyle::with_template("{spinner} {msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            );
            bar
        });
        Self {
            bar,
            last: Progress::default(),
        }
    }

    /// How often the load generator should report.
    pub fn tick(&self) -> Duration {
        if self.bar.is_some() {
            Duration::from_millis(200)
        } else {
            Duration::from_secs(1)
        }
    }

    /// Shows one report, with the rate since the previous one.
    pub fn show(&mut self, p: &Progress) {
        let span = p.elapsed.saturating_sub(self.last.elapsed).as_secs_f64();
        let rate = if span > 0.0 && !p.warming_up {
            p.requests.saturating_sub(self.last.requests) as f64 / span
        } else {
            0.0
        };
        let phase = if p.warming_up { " (warm-up)" } else { "" };
        let line = format!(
            "{:.1} s{phase}: {} requests, {rate:.0}/s now, {} mismatches, {} errors, {} connect errors",
            p.elapsed.as_secs_f64(),
            p.requests,
            p.mismatches,
            p.protocol_errors + p.timeouts,
            p.connect_errors,
        );
        match &self.bar {
            Some(bar) => bar.set_message(line),
            None => say!("bench: {line}"),
        }
        self.last = *p;
    }

    /// Clears the spinner.
    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
