//! A precise wake-up for the open-loop schedule.
//!
//! mio's poll timeout has millisecond resolution (it rounds up), which
//! would add up to a millisecond of the generator's own lateness to every
//! latency measured from the intended send time. On Linux a timerfd
//! registered with the loop wakes it on time instead (the thread's timer
//! slack is lowered from 50 µs to 1 µs). Elsewhere the alarm does nothing
//! and the poll timeout alone wakes the loop.

use std::io;
use std::time::Instant;

use mio::{Registry, Token};

/// One timer per event loop, armed for the earliest due request.
#[derive(Debug)]
pub(crate) struct Alarm {
    #[cfg(target_os = "linux")]
    fd: rustix::fd::OwnedFd,
    /// When the timer is set to fire, if it is.
    armed: Option<Instant>,
}

#[cfg(target_os = "linux")]
impl Alarm {
    /// A disarmed alarm that wakes `registry`'s poll with `token`.
    pub(crate) fn new(registry: &Registry, token: Token) -> io::Result<Self> {
        use rustix::fd::AsRawFd;
        use rustix::time::{timerfd_create, TimerfdClockId, TimerfdFlags};

        // The default slack (50 µs) would be the generator's own lateness;
        // 1 µs costs a few more timer interrupts, only in open loop.
        if let Err(e) = rustix::thread::set_current_timer_slack(std::num::NonZeroU64::new(1_000)) {
            tracing::debug!("cannot lower the timer slack: {e}");
        }
        let fd = timerfd_create(
            TimerfdClockId::Monotonic,
            TimerfdFlags::NONBLOCK | TimerfdFlags::CLOEXEC,
        )?;
        registry.register(
            &mut mio::unix::SourceFd(&fd.as_raw_fd()),
            token,
            mio::Interest::READABLE,
        )?;
        Ok(Self { fd, armed: None })
    }

    /// Makes the loop wake at `at` (or earlier, if already armed so).
    pub(crate) fn arm(&mut self, at: Instant, now: Instant) -> io::Result<()> {
        use rustix::time::{timerfd_settime, Itimerspec, TimerfdTimerFlags, Timespec};

        if self.armed.is_some_and(|armed| armed <= at) {
            return Ok(());
        }
        // A zero value would disarm the timer: fire in 1 ns instead.
        let after = at
            .saturating_duration_since(now)
            .max(std::time::Duration::from_nanos(1));
        let value = Timespec {
            tv_sec: i64::try_from(after.as_secs()).unwrap_or(i64::MAX),
            tv_nsec: i64::from(after.subsec_nanos()),
        };
        let spec = Itimerspec {
            it_interval: Timespec::default(),
            it_value: value,
        };
        timerfd_settime(&self.fd, TimerfdTimerFlags::empty(), &spec)?;
        self.armed = Some(at);
        Ok(())
    }

    /// The alarm fired: consume the event so the next one is reported.
    pub(crate) fn on_fire(&mut self) {
        let mut count = [0u8; 8];
        // Nothing to read (a stale event) is fine: the timer is one-shot.
        let _ = rustix::io::read(&self.fd, &mut count);
        self.armed = None;
    }
}

#[cfg(not(target_os = "linux"))]
impl Alarm {
    /// An alarm that never fires: the poll timeout does the waking.
    pub(crate) fn new(_registry: &Registry, _token: Token) -> io::Result<Self> {
        Ok(Self { armed: None })
    }

    /// Does nothing.
    pub(crate) fn arm(&mut self, at: Instant, _now: Instant) -> io::Result<()> {
        self.armed = Some(at);
        Ok(())
    }

    /// Does nothing.
    pub(crate) fn on_fire(&mut self) {
        self.armed = None;
    }
}
