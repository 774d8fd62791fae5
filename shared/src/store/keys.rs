//! The single-table key layout: one string partition key `pk`, a type prefix per item kind.
//! Expiring items carry `expires_at` (epoch seconds), which is also the table's TTL attribute.
//! Sessions have no items of their own: they are the `sessions` map of their user's item
//! (token hash → expiry), so they go with the account and one write ends them all.

use crate::domain::{ClientIp, ImageCodeId, Mobile, SmsPurpose, UserId, UserName};

pub const PK: &str = "pk";
pub const TTL: &str = "expires_at";

/// The type prefix of each item kind's key.
pub const IMAGE_CODE_PREFIX: &str = "IMG#";
pub const SMS_CODE_PREFIX: &str = "SMS#";
/// Password reset codes: apart from registration codes, so neither can stand for the other.
pub const SMS_RESET_PREFIX: &str = "SMSRESET#";
pub const MOBILE_PREFIX: &str = "MOBILE#";
pub const USER_PREFIX: &str = "USER#";
pub const NAME_PREFIX: &str = "NAME#";
pub const LOGIN_FAILURES_PREFIX: &str = "LOGINFAIL#";
/// Abuse budget counters (`crate::limits`): `LIMIT#<budget>#<subject>#<window>`.
pub const LIMIT_PREFIX: &str = "LIMIT#";

pub fn image_code(id: &ImageCodeId) -> String {
    format!("{IMAGE_CODE_PREFIX}{}", id.as_str())
}

pub fn sms_code(mobile: &Mobile, purpose: SmsPurpose) -> String {
    let prefix = match purpose {
        SmsPurpose::Register => SMS_CODE_PREFIX,
        SmsPurpose::Reset => SMS_RESET_PREFIX,
    };
    format!("{prefix}{}", mobile.as_str())
}

pub fn mobile(mobile: &Mobile) -> String {
    format!("{MOBILE_PREFIX}{}", mobile.as_str())
}

pub fn user(id: UserId) -> String {
    format!("{USER_PREFIX}{}", id.get())
}

/// Keyed by the name's confusable skeleton, not the name itself (`UserName::skeleton_key` says
/// how): one guard for `Alice`, `alice` and the all-Cyrillic `Аӏісе`, so holding one holds them all.
pub fn name(name: &UserName) -> String {
    format!("{NAME_PREFIX}{}", name.key())
}

/// Failed logins of a mobile from one client address (IPv6: its /64).
pub fn login_failures(mobile: &Mobile, from: Option<ClientIp>) -> String {
    let from = from.map_or_else(|| "unknown".to_owned(), |ip| ip.bucket());
    format!("{LOGIN_FAILURES_PREFIX}{}#{from}", mobile.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_keep_kinds_apart() {
        let m = Mobile::parse("13800138000").unwrap();
        let keys = [
            image_code(&ImageCodeId::parse("13800138000").unwrap()),
            sms_code(&m, SmsPurpose::Register),
            sms_code(&m, SmsPurpose::Reset),
            mobile(&m),
            user(UserId::new(13800138000).unwrap()),
            login_failures(&m, ClientIp::parse("203.0.113.7")),
        ];
        let distinct: std::collections::HashSet<_> = keys.iter().collect();
        assert_eq!(distinct.len(), keys.len());
        assert_eq!(keys[3], "MOBILE#13800138000");
    }
}
