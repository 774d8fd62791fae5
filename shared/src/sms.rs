//! Sending SMS codes: Amazon SNS transactional SMS to `+86<mobile>`.

use aws_sdk_sns::types::MessageAttributeValue;
use thiserror::Error;

use crate::domain::{Mobile, SmsCode};

#[derive(Debug, Error)]
#[error("sms send failed: {0}")]
pub struct SmsError(String);

#[derive(Debug, Clone)]
pub enum SmsSender {
    Sns(SnsSender),
    /// Local runs: nothing is sent; the message is printed and appended to a file.
    Console(ConsoleSms),
}

impl SmsSender {
    pub async fn send_code(&self, mobile: &Mobile, code: &SmsCode, valid_minutes: i64) -> Result<(), SmsError> {
        let message = format!("【iHome】您的验证码是{}，{}分钟内有效，请勿告诉他人。", code.as_str(), valid_minutes);
        match self {
            SmsSender::Sns(sns) => sns.publish(mobile, message).await,
            SmsSender::Console(console) => console.deliver(mobile, &message).await,
        }
    }
}

#[derive(Debug, Clone)]
pub struct SnsSender {
    client: aws_sdk_sns::Client,
    sender_id: Option<String>,
}

impl SnsSender {
    pub fn new(client: aws_sdk_sns::Client, sender_id: Option<String>) -> Self {
        SnsSender { client, sender_id }
    }

    async fn publish(&self, mobile: &Mobile, message: String) -> Result<(), SmsError> {
        let attr = |v: &str| {
            MessageAttributeValue::builder()
                .data_type("String")
                .string_value(v)
                .build()
                .map_err(|e| SmsError(e.to_string()))
        };
        let mut req = self
            .client
            .publish()
            .phone_number(format!("+86{}", mobile.as_str()))
            .message(message)
            // Transactional: higher delivery priority than promotional, as codes expire.
            .message_attributes("AWS.SNS.SMS.SMSType", attr("Transactional")?);
        if let Some(id) = &self.sender_id {
            req = req.message_attributes("AWS.SNS.SMS.SenderID", attr(id)?);
        }
        req.send().await.map_err(|e| SmsError(aws_sdk_sns::error::DisplayErrorContext(&e).to_string()))?;
        Ok(())
    }
}

/// The local SMS outbox: each message is printed to the console, marked as not sent, and appended
/// as a JSON line `{"phone_number", "message", "sent_at"}` to a file tests and people can read.
#[derive(Debug, Clone)]
pub struct ConsoleSms {
    outbox: std::path::PathBuf,
}

impl ConsoleSms {
    pub fn new(outbox: impl Into<std::path::PathBuf>) -> Self {
        ConsoleSms { outbox: outbox.into() }
    }

    pub fn outbox(&self) -> &std::path::Path {
        &self.outbox
    }

    async fn deliver(&self, mobile: &Mobile, message: &str) -> Result<(), SmsError> {
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

/// Appends one line to a JSON-lines file in a single write, so concurrent appends never interleave.
pub fn append_line(path: &std::path::Path, line: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new().create(true).append(true).open(path)?;
    f.write_all(format!("{line}\n").as_bytes())
}

/// Prints a line for a person at the console; a closed stdout is no reason to fail a request.
pub fn console_line(line: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stdout().lock(), "{line}");
}
