//! How long the accept loop pauses after failing to accept a connection.
//!
//! When the process runs out of file descriptors (EMFILE) the listener stays readable and every
//! `accept` fails at once; retrying at once spins a core until a descriptor frees up. A pause that
//! grows with each consecutive failure lets connections in flight finish and close theirs.

use std::io;
use std::time::Duration;

/// Consecutive accept failures, and the pause they call for.
#[derive(Debug, Default)]
pub struct AcceptBackoff {
    failures: u32,
}

impl AcceptBackoff {
    /// The pause after the first failure of a run; it doubles with each further one.
    pub const FIRST: Duration = Duration::from_millis(10);
    /// The longest pause: short enough that the server resumes soon after descriptors free up.
    pub const MAX: Duration = Duration::from_secs(1);

    pub fn new() -> Self {
        Self::default()
    }

    /// The pause before accepting again after `error`, or `None` to accept again at once.
    pub fn failed(&mut self, error: &io::Error) -> Option<Duration> {
        // The client gave up on that one connection; the next one may already be waiting.
        if matches!(error.kind(), io::ErrorKind::ConnectionAborted | io::ErrorKind::ConnectionReset) {
            return None;
        }
        let pause = Self::FIRST.saturating_mul(1 << self.failures.min(16)).min(Self::MAX);
        self.failures = self.failures.saturating_add(1);
        Some(pause)
    }

    /// How many accepts in a row have failed (and paused).
    pub fn failures(&self) -> u32 {
        self.failures
    }

    /// A connection was accepted: the next failure starts a new run.
    pub fn accepted(&mut self) {
        self.failures = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What `accept` answers when the process has no file descriptor left (EMFILE).
    fn out_of_descriptors() -> io::Error {
        io::Error::from_raw_os_error(24)
    }

    #[test]
    fn pauses_grow_with_consecutive_failures_up_to_the_cap() {
        let mut backoff = AcceptBackoff::new();
        let pauses: Vec<_> = (0..10).map(|_| backoff.failed(&out_of_descriptors())).collect();
        let ms = |n| Some(Duration::from_millis(n));
        assert_eq!(pauses, [ms(10), ms(20), ms(40), ms(80), ms(160), ms(320), ms(640), ms(1000), ms(1000), ms(1000)]);
    }

    #[test]
    fn an_accepted_connection_resets_the_pause() {
        let mut backoff = AcceptBackoff::new();
        for _ in 0..5 {
            backoff.failed(&out_of_descriptors());
        }
        backoff.accepted();
        assert_eq!(backoff.failed(&out_of_descriptors()), Some(AcceptBackoff::FIRST));
        assert_eq!(backoff.failed(&out_of_descriptors()), Some(AcceptBackoff::FIRST * 2));
    }

    #[test]
    fn a_connection_the_client_abandoned_is_no_reason_to_pause() {
        let mut backoff = AcceptBackoff::new();
        assert_eq!(backoff.failed(&out_of_descriptors()), Some(AcceptBackoff::FIRST));
        // The next connection is already waiting: accept it at once, and keep the run's length.
        for kind in [io::ErrorKind::ConnectionAborted, io::ErrorKind::ConnectionReset] {
            assert_eq!(backoff.failed(&io::Error::from(kind)), None);
        }
        assert_eq!(backoff.failed(&out_of_descriptors()), Some(AcceptBackoff::FIRST * 2));
    }
}
