//! Exit statuses: the one list of codes every command uses, the "Exit
//! status" text of each command's `--help` (built from that list), and the
//! mapping of errors to codes. It does not decide when a command fails;
//! the commands do.

use std::fmt::Write as _;
use std::process::ExitCode;

/// How the `sockmux` process ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// The command did all that was asked.
    Success = 0,
    /// A runtime failure: unreachable server, failed exchange, wrong bytes,
    /// a port that cannot be bound, a bad table file.
    Failure = 1,
    /// A bad command line. clap exits with 2 for the mistakes it catches
    /// itself, so every usage error the commands find uses it too.
    Usage = 2,
    /// `app-client`: the exchange worked but the server answered `Error: …`.
    ServerError = 3,
    /// Stopped by SIGINT (Ctrl-C): 128 + 2, as a shell reports it.
    Interrupted = 130,
    /// Stopped by SIGTERM: 128 + 15, as a shell reports it.
    Terminated = 143,
}

impl From<Exit> for ExitCode {
    fn from(exit: Exit) -> Self {
        ExitCode::from(exit as u8)
    }
}

impl Exit {
    /// The status for an error a command returned: [`Usage`] errors exit 2,
    /// everything else 1.
    pub fn of_error(e: &anyhow::Error) -> Exit {
        if e.is::<Usage>() {
            Exit::Usage
        } else {
            Exit::Failure
        }
    }
}

/// A command line that parses but makes no sense (flags that do not go
/// together); clap catches the rest.
#[derive(Debug)]
pub struct Usage(String);

impl std::fmt::Display for Usage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Usage {}

/// A [`Usage`] error: exits 2.
pub fn usage(text: impl Into<String>) -> anyhow::Error {
    anyhow::Error::new(Usage(text.into()))
}

/// The "Exit status" section of a command's `--help`: the command's own
/// codes (`own`, what 0, 1 and 3 mean for it), then the bad command line
/// and signal codes every command shares; `on_signal` says what the
/// command does before it exits on a signal (lines of at most 80 columns).
pub fn help(own: &[(Exit, &str)], on_signal: &str) -> String {
    let shared = [
        (Exit::Usage, "bad command line"),
        (Exit::Interrupted, "stopped by SIGINT (Ctrl-C)"),
        (Exit::Terminated, "stopped by SIGTERM"),
    ];
    let mut lines: Vec<(Exit, &str)> = own.iter().chain(&shared).copied().collect();
    lines.sort_by_key(|&(exit, _)| exit as u8);
    let mut text = String::from("Exit status:\n");
    for (exit, meaning) in lines {
        let _ = writeln!(text, "  {:<4} {meaning}", exit as u8);
    }
    let _ = write!(
        text,
        "\nOn SIGINT or SIGTERM {on_signal}.\nA second signal exits at once."
    );
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn help_lists_every_code_once_in_order() {
        let text = help(
            &[(Exit::Failure, "it failed"), (Exit::Success, "fine")],
            "it stops",
        );
        let codes: Vec<&str> = text
            .lines()
            .skip(1)
            .filter_map(|l| l.split_whitespace().next())
            .collect();
        assert_eq!(codes[..5], ["0", "1", "2", "130", "143"]);
        assert!(text.ends_with("On SIGINT or SIGTERM it stops.\nA second signal exits at once."));
    }

    #[test]
    fn usage_errors_exit_2_and_others_1() {
        assert_eq!(Exit::of_error(&usage("no")), Exit::Usage);
        assert_eq!(Exit::of_error(&anyhow::anyhow!("no")), Exit::Failure);
    }
}
