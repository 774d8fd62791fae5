//! Sending SMS codes: the port, and its Amazon SNS adapter (transactional SMS to `+86<mobile>`).

use std::future::Future;

use aws_sdk_sns::types::MessageAttributeValue;
use thiserror::Error;

use crate::config::Config;
use crate::deferred::Deferred;
use crate::domain::{Mobile, SmsCode};

#[derive(Debug, Error)]
#[error("sms send failed: {0}")]
pub struct SmsError(pub String);

/// Delivers a text to a mobile: SNS under Lambda, the console outbox in `ihome-local`.
pub trait SmsSender: Send + Sync {
    fn send<'a>(
        &'a self,
        mobile: &'a Mobile,
        message: &'a str,
    ) -> impl Future<Output = Result<(), SmsError>> + Send + 'a;
}

/// The text of a code's SMS; the 【】 signature is what China's registered templates start with.
pub fn code_message(code: &SmsCode, valid_minutes: i64) -> String {
    format!("【iHome】您的验证码是{}，{}分钟内有效，请勿告诉他人。", code.as_str(), valid_minutes)
}

/// The text of a password reset code's SMS.
pub fn reset_message(code: &SmsCode, valid_minutes: i64) -> String {
    format!("【iHome】您正在重置密码，验证码是{}，{}分钟内有效。如非本人操作，请忽略。", code.as_str(), valid_minutes)
}

#[derive(Debug, Clone)]
pub struct SnsSender {
    client: Deferred<aws_sdk_sns::Client>,
    sender_id: Option<String>,
}

impl SnsSender {
    pub fn new(client: aws_sdk_sns::Client, sender_id: Option<String>) -> Self {
        SnsSender { client: Deferred::ready(client), sender_id }
    }

    /// The sender for a function: its SNS client from the function's SDK settings, built when
    /// the first SMS is sent (`crate::deferred`: most cold starts of `sms-code` send none).
    pub fn from_sdk(sdk: &aws_types::SdkConfig, config: &Config) -> Self {
        let mut conf = aws_sdk_sns::config::Builder::from(sdk);
        if let Some(url) = crate::aws_env::service_endpoint("SNS") {
            conf = conf.endpoint_url(url);
        }
        let conf = conf.build();
        let client = Deferred::new(move || aws_sdk_sns::Client::from_conf(conf.clone()));
        SnsSender { client, sender_id: config.sms_sender_id.clone() }
    }
}

impl SmsSender for SnsSender {
    #[inline(never)]
    fn send<'a>(
        &'a self,
        mobile: &'a Mobile,
        message: &'a str,
    ) -> impl Future<Output = Result<(), SmsError>> + Send + 'a {
        crate::boxed(async move {
            let attr = |v: &str| {
                MessageAttributeValue::builder()
                    .data_type("String")
                    .string_value(v)
                    .build()
                    .map_err(|e| SmsError(e.to_string()))
            };
            let mut req = self
                .client
                .get()
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
        })
    }
}
