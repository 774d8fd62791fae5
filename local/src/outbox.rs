//! What a person reads instead of a phone or an image: SMS codes and captcha answers, printed to
//! the console and appended as JSON lines to files scripts and tests can read.

use std::path::{Path, PathBuf};

use ihome::domain::{ImageCodeId, ImageCodeText, Mobile};
use ihome::sms::{SmsError, SmsSender};

/// The local SMS outbox: each message is printed to the console, marked as not sent, and
/// appended as `{"phone_number", "message", "sent_at"}` to a file.
#[derive(Debug, Clone)]
pub struct ConsoleSms {
    outbox: PathBuf,
}

impl ConsoleSms {
    pub fn new(outbox: impl Into<PathBuf>) -> Self {
        ConsoleSms { outbox: outbox.into() }
    }
}

impl SmsSender for ConsoleSms {
    async fn send(&self, mobile: &Mobile, message: &str) -> Result<(), SmsError> {
        let line = serde_json::json!({
            "phone_number": format!("+86{}", mobile.as_str()),
            "message": message,
            "sent_at": time::OffsetDateTime::now_utc().unix_timestamp(),
        });
        let path = self.outbox.clone();
        tokio::task::spawn_blocking(move || append_line(&path, &line.to_string()))
            .await
            .map_err(|e| SmsError(e.to_string()))?
            .map_err(|e| SmsError(format!("local outbox: {e}")))?;
        // The console is the local stand-in for a phone: the code is meant to be read here.
        console_line(&format!("[LOCAL SMS, not sent] to {}: {message}", mobile.masked()));
        Ok(())
    }
}

/// A captcha's answer to the console and a JSON-lines file, like the SMS outbox.
pub async fn echo_captcha(path: &Path, id: &ImageCodeId, text: &ImageCodeText) {
    let line = serde_json::json!({ "id": id.as_str(), "text": text.as_str() }).to_string();
    let path = path.to_owned();
    let written = tokio::task::spawn_blocking(move || append_line(&path, &line)).await;
    if !matches!(written, Ok(Ok(()))) {
        tracing::warn!("could not append to the local captcha file");
    }
    console_line(&format!("[LOCAL captcha] {} -> {}", id.as_str(), text.as_str()));
}

/// Appends one line to a JSON-lines file in a single write, so concurrent appends never interleave.
pub fn append_line(path: &Path, line: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new().create(true).append(true).open(path)?;
    f.write_all(format!("{line}\n").as_bytes())
}

/// Prints a line for a person at the console; a closed stdout is no reason to fail a request.
pub fn console_line(line: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stdout().lock(), "{line}");
}
