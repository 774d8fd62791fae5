//! The header and idle limits of one connection, enforced where hyper reads and writes.
//!
//! hyper's own `header_read_timeout` starts whenever it waits for a request head, the wait
//! between kept-alive requests included, so it cannot give idle connections a longer limit than
//! slow heads. Here they are apart: a kept-alive connection is idle until a request's first byte
//! arrives, and from then has the header limit to finish the head (a new connection has it from
//! its accept). While the service has a request there is no deadline here: the body has a limit
//! of its own (`server`), and a handler's work has none.

use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep};

#[derive(Debug, Clone, Copy)]
enum Phase {
    /// Between requests, since the last response byte went out (or the service answered).
    Idle { since: Instant },
    /// In a request's head, since its first byte (or the connection's accept).
    Head { since: Instant },
    /// The service has a request.
    Busy,
}

/// Where one connection is between requests, shared by its reads and writes and its service.
#[derive(Debug, Clone)]
pub struct ConnPhase {
    phase: Arc<Mutex<Phase>>,
    header: Duration,
    idle: Duration,
}

impl ConnPhase {
    /// A connection just accepted: its first request's head is due within `header`.
    pub fn new(header: Duration, idle: Duration) -> Self {
        ConnPhase { phase: Arc::new(Mutex::new(Phase::Head { since: Instant::now() })), header, idle }
    }

    /// The service took a request.
    pub fn busy(&self) {
        self.set(|_| Phase::Busy);
    }

    /// The service answered: idle until the next request begins.
    pub fn answered(&self) {
        self.set(|_| Phase::Idle { since: Instant::now() });
    }

    fn bytes_read(&self) {
        self.set(|p| match p {
            Phase::Idle { .. } => Phase::Head { since: Instant::now() },
            other => other,
        });
    }

    /// A client taking its response is not idle: the idle limit counts from its last byte.
    fn bytes_written(&self) {
        self.set(|p| match p {
            Phase::Idle { .. } => Phase::Idle { since: Instant::now() },
            other => other,
        });
    }

    fn deadline(&self) -> Option<Instant> {
        match *self.phase.lock().unwrap_or_else(PoisonError::into_inner) {
            Phase::Idle { since } => Some(since + self.idle),
            Phase::Head { since } => Some(since + self.header),
            Phase::Busy => None,
        }
    }

    fn set(&self, f: impl FnOnce(Phase) -> Phase) {
        let mut phase = self.phase.lock().unwrap_or_else(PoisonError::into_inner);
        *phase = f(*phase);
    }
}

/// A connection's stream whose reads and writes fail with `TimedOut` once its phase's deadline
/// passes while they wait; hyper then closes the connection.
pub struct TimedIo<T> {
    inner: T,
    phase: ConnPhase,
    timer: Pin<Box<Sleep>>,
    armed_for: Option<Instant>,
}

impl<T> TimedIo<T> {
    pub fn new(inner: T, phase: ConnPhase) -> Self {
        TimedIo { inner, phase, timer: Box::pin(tokio::time::sleep(Duration::ZERO)), armed_for: None }
    }

    /// For an operation that would wait: an error once the phase's deadline has passed, else
    /// `Pending` with a wake-up at the deadline.
    fn poll_deadline(&mut self, cx: &mut Context<'_>) -> Poll<io::Error> {
        let Some(deadline) = self.phase.deadline() else { return Poll::Pending };
        if self.armed_for != Some(deadline) {
            self.timer.as_mut().reset(deadline);
            self.armed_for = Some(deadline);
        }
        match self.timer.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(io::Error::new(io::ErrorKind::TimedOut, "connection limit passed")),
            Poll::Pending => Poll::Pending,
        }
    }

    /// After a write: hyper may not read again until woken (an answered request leaves it waiting
    /// on the socket alone), so the timer must be armed for the phase's new deadline now.
    fn watch_deadline(&mut self, cx: &mut Context<'_>) {
        if self.poll_deadline(cx).is_ready() {
            // Passed already: the next read reports it.
            cx.waker().wake_by_ref();
        }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for TimedIo<T> {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        match Pin::new(&mut this.inner).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                if buf.filled().len() > before {
                    this.phase.bytes_read();
                }
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => this.poll_deadline(cx).map(Err),
        }
    }
}

impl<T> TimedIo<T> {
    /// A write's outcome: bytes out move the phase on (and re-arm the deadline); a write that
    /// must wait may instead meet the deadline.
    fn after_write(&mut self, cx: &mut Context<'_>, written: Poll<io::Result<usize>>) -> Poll<io::Result<usize>> {
        match written {
            Poll::Ready(Ok(n)) => {
                if n > 0 {
                    self.phase.bytes_written();
                    self.watch_deadline(cx);
                }
                Poll::Ready(Ok(n))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => self.poll_deadline(cx).map(Err),
        }
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for TimedIo<T> {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let written = Pin::new(&mut this.inner).poll_write(cx, buf);
        this.after_write(cx, written)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let written = Pin::new(&mut this.inner).poll_write_vectored(cx, bufs);
        this.after_write(cx, written)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        match Pin::new(&mut this.inner).poll_flush(cx) {
            Poll::Pending => this.poll_deadline(cx).map(Err),
            done => done,
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}
