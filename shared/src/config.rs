//! Every setting, read from the environment once per cold start. Defaults suit a deployed stack;
//! the README's configuration table lists them all.

use thiserror::Error;

use crate::cache::CacheSetting;
use crate::limits::Quota;

/// The stack's stage (`dev`, `prod`), the dimension of the functions' metrics (`crate::metrics`).
pub const STAGE_VAR: &str = "IHOME_STAGE";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// DynamoDB table holding every item kind (`IHOME_TABLE`).
    pub table: String,
    /// Add `Secure` to the session cookie (`IHOME_COOKIE_SECURE`); off only for plain-HTTP local runs.
    pub cookie_secure: bool,
    /// bcrypt work factor for new passwords (`IHOME_BCRYPT_COST`, 4–31).
    pub bcrypt_cost: u32,
    /// Image captcha lifetime in seconds (`IHOME_IMAGE_CODE_TTL`).
    pub image_code_ttl: i64,
    /// SMS code lifetime in seconds (`IHOME_SMS_CODE_TTL`).
    pub sms_code_ttl: i64,
    /// Minimum seconds between two SMS to one mobile (`IHOME_SMS_INTERVAL`).
    pub sms_interval: i64,
    /// Tries an SMS code allows before it is void (`IHOME_SMS_MAX_ATTEMPTS`).
    pub sms_max_attempts: u32,
    /// Session lifetime in seconds, also the cookie's Max-Age (`IHOME_SESSION_TTL`).
    pub session_ttl: i64,
    /// Failed logins per mobile and client address allowed in one window (`IHOME_LOGIN_MAX_FAILURES`).
    pub login_max_failures: u32,
    /// The login failure window in seconds (`IHOME_LOGIN_FAILURE_WINDOW`).
    pub login_failure_window: i64,
    /// Sender ID put on SMS where the destination supports one (`IHOME_SMS_SENDER_ID`).
    pub sms_sender_id: Option<String>,
    /// Offset from UTC, in hours, for `create_time` (`IHOME_UTC_OFFSET_HOURS`; China: 8).
    pub utc_offset_hours: i8,
    /// S3 bucket of avatar objects (`IHOME_AVATAR_BUCKET`).
    pub avatar_bucket: String,
    /// Public URL the bucket's objects are served at, ending in `/` (`IHOME_AVATAR_BASE_URL`).
    pub avatar_base_url: String,
    /// Abuse budgets (`IHOME_LIMIT_…`).
    pub limits: Limits,
    /// The cache tier holding the budgets' counters (`IHOME_CACHE_ENDPOINT`, `IHOME_CACHE_NAME`);
    /// none: they are counted in the store.
    pub cache: Option<CacheSetting>,
}

/// Abuse budgets, each a count in a fixed window (`crate::limits`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// SMS sent per client address per hour (`IHOME_LIMIT_SMS_PER_IP`).
    pub sms_per_ip: Quota,
    /// SMS sent per mobile per day, besides the gap between two (`IHOME_LIMIT_SMS_PER_MOBILE`).
    pub sms_per_mobile: Quota,
    /// SMS sent by the whole stack per hour: a circuit breaker (`IHOME_LIMIT_SMS_TOTAL`).
    pub sms_total: Quota,
    /// Captchas drawn per client address per minute (`IHOME_LIMIT_CAPTCHA_PER_IP`).
    pub captcha_per_ip: Quota,
    /// Registrations tried per client address per hour (`IHOME_LIMIT_REGISTER_PER_IP`).
    pub register_per_ip: Quota,
    /// Password resets tried per client address per hour (`IHOME_LIMIT_RESET_PER_IP`).
    pub reset_per_ip: Quota,
    /// Login attempts per mobile per hour from all addresses (`IHOME_LIMIT_LOGIN_PER_MOBILE`);
    /// each address also has `login_max_failures` per `login_failure_window`.
    pub login_per_mobile: Quota,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            sms_per_ip: Quota::new(20, 3600),
            sms_per_mobile: Quota::new(10, 86_400),
            sms_total: Quota::new(500, 3600),
            captcha_per_ip: Quota::new(60, 60),
            register_per_ip: Quota::new(20, 3600),
            reset_per_ip: Quota::new(20, 3600),
            login_per_mobile: Quota::new(100, 3600),
        }
    }
}

impl Limits {
    fn from_lookup(get: &impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let d = Limits::default();
        let max = |name: &'static str, default: Quota| -> Result<Quota, ConfigError> {
            Ok(Quota::new(number(get(name), name, default.max, 1, 1_000_000)?, default.window))
        };
        Ok(Limits {
            sms_per_ip: max("IHOME_LIMIT_SMS_PER_IP", d.sms_per_ip)?,
            sms_per_mobile: max("IHOME_LIMIT_SMS_PER_MOBILE", d.sms_per_mobile)?,
            sms_total: max("IHOME_LIMIT_SMS_TOTAL", d.sms_total)?,
            captcha_per_ip: max("IHOME_LIMIT_CAPTCHA_PER_IP", d.captcha_per_ip)?,
            register_per_ip: max("IHOME_LIMIT_REGISTER_PER_IP", d.register_per_ip)?,
            reset_per_ip: max("IHOME_LIMIT_RESET_PER_IP", d.reset_per_ip)?,
            login_per_mobile: max("IHOME_LIMIT_LOGIN_PER_MOBILE", d.login_per_mobile)?,
        })
    }
}

#[derive(Debug, Error, PartialEq, Eq)]
#[error("configuration {name}={value:?} is invalid: {why}")]
pub struct ConfigError {
    pub name: &'static str,
    pub value: String,
    pub why: &'static str,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            table: "ihome".into(),
            cookie_secure: true,
            bcrypt_cost: 10,
            image_code_ttl: 300,
            sms_code_ttl: 300,
            sms_interval: 60,
            sms_max_attempts: 5,
            session_ttl: 86_400,
            login_max_failures: 5,
            login_failure_window: 600,
            sms_sender_id: None,
            utc_offset_hours: 8,
            avatar_bucket: "ihome-avatars".into(),
            avatar_base_url: "https://ihome-avatars.s3.amazonaws.com/".into(),
            limits: Limits::default(),
            cache: None,
        }
    }
}

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads settings through `lookup`, so tests need not touch the process environment.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let d = Config::default();
        let get = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        Ok(Config {
            table: get("IHOME_TABLE").unwrap_or(d.table),
            cookie_secure: flag(get("IHOME_COOKIE_SECURE"), "IHOME_COOKIE_SECURE", d.cookie_secure)?,
            bcrypt_cost: number(get("IHOME_BCRYPT_COST"), "IHOME_BCRYPT_COST", d.bcrypt_cost, 4, 31)?,
            image_code_ttl: number(get("IHOME_IMAGE_CODE_TTL"), "IHOME_IMAGE_CODE_TTL", d.image_code_ttl, 30, 3600)?,
            sms_code_ttl: number(get("IHOME_SMS_CODE_TTL"), "IHOME_SMS_CODE_TTL", d.sms_code_ttl, 60, 3600)?,
            sms_interval: number(get("IHOME_SMS_INTERVAL"), "IHOME_SMS_INTERVAL", d.sms_interval, 1, 3600)?,
            sms_max_attempts: number(
                get("IHOME_SMS_MAX_ATTEMPTS"),
                "IHOME_SMS_MAX_ATTEMPTS",
                d.sms_max_attempts,
                1,
                20,
            )?,
            session_ttl: number(get("IHOME_SESSION_TTL"), "IHOME_SESSION_TTL", d.session_ttl, 60, 30 * 86_400)?,
            login_max_failures: number(
                get("IHOME_LOGIN_MAX_FAILURES"),
                "IHOME_LOGIN_MAX_FAILURES",
                d.login_max_failures,
                1,
                100,
            )?,
            login_failure_window: number(
                get("IHOME_LOGIN_FAILURE_WINDOW"),
                "IHOME_LOGIN_FAILURE_WINDOW",
                d.login_failure_window,
                1,
                86_400,
            )?,
            sms_sender_id: get("IHOME_SMS_SENDER_ID"),
            utc_offset_hours: number(
                get("IHOME_UTC_OFFSET_HOURS"),
                "IHOME_UTC_OFFSET_HOURS",
                d.utc_offset_hours,
                -12,
                14,
            )?,
            avatar_base_url: base_url(get("IHOME_AVATAR_BASE_URL"), get("IHOME_AVATAR_BUCKET").as_deref())?,
            avatar_bucket: get("IHOME_AVATAR_BUCKET").unwrap_or(d.avatar_bucket),
            limits: Limits::from_lookup(&get)?,
            cache: CacheSetting::from_vars(get("IHOME_CACHE_ENDPOINT"), get("IHOME_CACHE_NAME"))?,
        })
    }
}

/// The avatar base URL: given (http or https, `/` appended if missing), else the bucket's own.
fn base_url(value: Option<String>, bucket: Option<&str>) -> Result<String, ConfigError> {
    let Some(v) = value else {
        return Ok(format!("https://{}.s3.amazonaws.com/", bucket.unwrap_or("ihome-avatars")));
    };
    let v = v.trim();
    if !(v.starts_with("https://") || v.starts_with("http://")) {
        return Err(ConfigError { name: "IHOME_AVATAR_BASE_URL", value: v.into(), why: "expected an http(s) URL" });
    }
    Ok(if v.ends_with('/') { v.to_owned() } else { format!("{v}/") })
}

fn flag(value: Option<String>, name: &'static str, default: bool) -> Result<bool, ConfigError> {
    match value.as_deref().map(str::trim) {
        None => Ok(default),
        Some(v) if ["1", "true", "yes", "on"].iter().any(|t| v.eq_ignore_ascii_case(t)) => Ok(true),
        Some(v) if ["0", "false", "no", "off"].iter().any(|t| v.eq_ignore_ascii_case(t)) => Ok(false),
        Some(v) => Err(ConfigError { name, value: v.into(), why: "expected true or false" }),
    }
}

fn number<T>(value: Option<String>, name: &'static str, default: T, min: T, max: T) -> Result<T, ConfigError>
where
    T: std::str::FromStr + PartialOrd,
{
    let Some(v) = value else { return Ok(default) };
    match v.trim().parse::<T>() {
        Ok(n) if n >= min && n <= max => Ok(n),
        Ok(_) => Err(ConfigError { name, value: v, why: "out of range" }),
        Err(_) => Err(ConfigError { name, value: v, why: "not a number" }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn from(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map: HashMap<String, String> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Config::from_lookup(|k| map.get(k).cloned())
    }

    #[test]
    fn defaults_follow_the_contract() {
        let c = from(&[]).unwrap();
        assert_eq!(c, Config::default());
        assert_eq!((c.image_code_ttl, c.sms_code_ttl, c.sms_interval, c.session_ttl), (300, 300, 60, 86_400));
        assert!(c.cookie_secure);
    }

    #[test]
    fn settings_are_read_and_checked() {
        let c = from(&[("IHOME_TABLE", "t1"), ("IHOME_COOKIE_SECURE", "false"), ("IHOME_BCRYPT_COST", "4")]).unwrap();
        assert_eq!((c.table.as_str(), c.cookie_secure, c.bcrypt_cost), ("t1", false, 4));
        assert_eq!(from(&[("IHOME_BCRYPT_COST", "3")]).unwrap_err().why, "out of range");
        assert_eq!(from(&[("IHOME_COOKIE_SECURE", "maybe")]).unwrap_err().name, "IHOME_COOKIE_SECURE");
        assert_eq!(from(&[("IHOME_SESSION_TTL", "x")]).unwrap_err().why, "not a number");
    }
}
