//! Captures the log output of code run on the current thread, formatted as under Lambda (JSON).
//!
//! One global subscriber routes each event to the buffer of the thread that emitted it, if that
//! thread is capturing. (Per-thread `set_default` subscribers miss events whose callsites were
//! first hit on other threads, which parallel tests make likely.)

use std::cell::RefCell;
use std::io::Write;
use std::sync::{Arc, Mutex, Once};

use tracing_subscriber::fmt::MakeWriter;

type Buffer = Arc<Mutex<Vec<u8>>>;

thread_local! {
    static CAPTURE: RefCell<Option<Buffer>> = const { RefCell::new(None) };
}

#[derive(Clone, Default)]
pub struct Captured(Buffer);

impl Captured {
    pub fn text(&self) -> String {
        self.0.lock().map(|b| String::from_utf8_lossy(&b).into_owned()).unwrap_or_default()
    }
}

/// Stops capturing on this thread when dropped.
pub struct CaptureGuard;

impl Drop for CaptureGuard {
    fn drop(&mut self) {
        CAPTURE.with(|c| c.borrow_mut().take());
    }
}

pub struct ThreadWriter;

impl Write for ThreadWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        CAPTURE.with(|c| {
            if let Some(b) = c.borrow().as_ref()
                && let Ok(mut b) = b.lock()
            {
                b.extend_from_slice(buf);
            }
        });
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

struct Routed;

impl<'a> MakeWriter<'a> for Routed {
    type Writer = ThreadWriter;
    fn make_writer(&'a self) -> Self::Writer {
        ThreadWriter
    }
}

/// Starts capturing this thread's events, formatted as Lambda's JSON log format formats them,
/// with Lambda's default filter (INFO) plus our own crate at DEBUG, so nothing of ours hides.
pub fn capture() -> (Captured, CaptureGuard) {
    static INIT: Once = Once::new();
    INIT.call_once(|| {
        let subscriber = tracing_subscriber::fmt()
            .json()
            .without_time()
            .with_target(false)
            .with_env_filter(tracing_subscriber::EnvFilter::new("info,ihome=debug"))
            .with_writer(Routed)
            .finish();
        let _ = tracing::subscriber::set_global_default(subscriber);
    });
    let captured = Captured::default();
    CAPTURE.with(|c| *c.borrow_mut() = Some(captured.0.clone()));
    (captured, CaptureGuard)
}
