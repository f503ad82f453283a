//! Accepting in capped batches. A listener with a deep queue must not keep
//! its loop from the connections it already has, and a process out of
//! descriptors must back off rather than spin on a listener that stays
//! readable.

use std::io;
use std::net::SocketAddr;

use mio::net::{TcpListener, TcpStream};

/// How a batch of accepts ended.
#[derive(Debug)]
pub enum AcceptOutcome {
    /// The listener's queue is empty: wait for its next event.
    Drained,
    /// The batch cap was reached with connections possibly still queued.
    /// Edge-triggered readiness will not repeat, so the caller must accept
    /// again on its next turn.
    Capped,
    /// The process or system is out of descriptors or memory (`EMFILE`,
    /// `ENFILE`, `ENOBUFS`, `ENOMEM`, ...): stop accepting for a while.
    BackOff(io::Error),
}

/// Accepts up to `max` pending connections from `listener`, passing each
/// to `admit`. Errors that concern one connection only (aborted before
/// accept, or refused by a firewall hook) are skipped.
pub fn accept_batch(
    listener: &TcpListener,
    max: usize,
    mut admit: impl FnMut(TcpStream, SocketAddr),
) -> AcceptOutcome {
    for _ in 0..max {
        match listener.accept() {
            Ok((stream, peer)) => admit(stream, peer),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return AcceptOutcome::Drained,
            Err(e) if is_per_connection(&e) => {}
            Err(e) => return AcceptOutcome::BackOff(e),
        }
    }
    AcceptOutcome::Capped
}

/// Accept errors that concern one connection, not the listener.
fn is_per_connection(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::PermissionDenied
            | io::ErrorKind::Interrupted
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_at_most_the_cap_per_call_and_says_when_more_may_wait() {
        let listener = TcpListener::bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let addr = listener.local_addr().unwrap();
        let _clients: Vec<_> = (0..5)
            .map(|_| std::net::TcpStream::connect(addr).unwrap())
            .collect();
        let mut taken = 0;
        let mut capped = 0;
        // Bounded: the handshakes are complete (blocking connects
        // returned), so the queue fills within a few turns.
        for _ in 0..10_000 {
            let mut batch = 0;
            match accept_batch(&listener, 2, |_, _| batch += 1) {
                AcceptOutcome::Capped => {
                    assert_eq!(batch, 2);
                    capped += 1;
                }
                AcceptOutcome::Drained => assert!(batch <= 2),
                AcceptOutcome::BackOff(e) => panic!("{e}"),
            }
            taken += batch;
            if taken == 5 {
                break;
            }
        }
        assert_eq!(taken, 5);
        assert!(
            capped >= 1,
            "five queued connections never filled a batch of two"
        );
        let outcome = accept_batch(&listener, 2, |_, _| taken += 1);
        assert!(matches!(outcome, AcceptOutcome::Drained), "{outcome:?}");
    }
}
