//! `bench`'s live progress line: an indicatif spinner on a terminal, a
//! plain line every second elsewhere when asked for (`--progress`), and
//! nothing otherwise. It only shows what the load generator reports; the
//! final report is printed by `bench`.

use std::time::Duration;

use super::say;
use indicatif::{ProgressBar, ProgressStyle};
use sockmux_client::Progress;

/// Whether and how progress is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Show {
    Off,
    /// A spinner line redrawn in place (a terminal).
    Spinner,
    /// A plain line every second (logs, CI).
    Lines,
}

impl Show {
    /// `forced` by `--progress`, shown anyway; otherwise only on a
    /// `terminal`, and not when the user asked for `quiet` output (`-q`,
    /// `--json`).
    pub fn choose(forced: bool, quiet: bool, terminal: bool) -> Self {
        match (forced || (terminal && !quiet), terminal) {
            (false, _) => Self::Off,
            (true, true) => Self::Spinner,
            (true, false) => Self::Lines,
        }
    }
}

/// The progress line of one run.
pub struct ProgressDisplay {
    show: Show,
    bar: Option<ProgressBar>,
    last: Progress,
}

impl ProgressDisplay {
    /// A display that shows progress as `show` says.
    pub fn new(show: Show) -> Self {
        let bar = (show == Show::Spinner).then(|| {
            let bar = ProgressBar::new_spinner();
            bar.set_style(
                ProgressStyle::with_template("{spinner} {msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            );
            bar
        });
        Self {
            show,
            bar,
            last: Progress::default(),
        }
    }

    /// How often the load generator should report.
    pub fn tick(&self) -> Duration {
        match self.show {
            Show::Spinner => Duration::from_millis(200),
            Show::Lines | Show::Off => Duration::from_secs(1),
        }
    }

    /// Shows one report, with the rate since the previous one.
    pub fn show(&mut self, p: &Progress) {
        if self.show == Show::Off {
            return;
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_shows_on_a_terminal_or_when_forced() {
        assert_eq!(Show::choose(false, false, true), Show::Spinner);
        assert_eq!(Show::choose(false, true, true), Show::Off);
        assert_eq!(Show::choose(false, false, false), Show::Off);
        assert_eq!(Show::choose(true, true, false), Show::Lines);
        assert_eq!(Show::choose(true, true, true), Show::Spinner);
    }
}
