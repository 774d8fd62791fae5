//! Abuse budgets: how many of a costly thing (an SMS, a captcha, a registration) one client
//! address, one mobile or the whole stack may have in a window, counted behind the `Limiter` port.
//! Adapters: DynamoDB (`DynamoStore`, the default), the embedded store (`ihome-local`) and, when
//! the cache tier is on, Redis. A route takes from its budgets before the costly work, so a
//! refused request costs one counter round trip and nothing else.
//!
//! Windows are fixed (the counter's key names its window), so a budget of `max` per window admits
//! at most `2 × max` across a window boundary, and a counter item expires with its window.

use std::fmt;
use std::future::Future;

use crate::config::Limits;
use crate::domain::{ClientIp, Mobile};
use crate::errno::Errno;
use crate::error::ApiError;
use crate::store::StoreError;

/// How many per how long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quota {
    pub max: u32,
    /// Seconds.
    pub window: i64,
}

impl Quota {
    pub const fn new(max: u32, window: i64) -> Self {
        Quota { max, window }
    }
}

/// What is counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Budget {
    SmsPerIp,
    SmsPerMobile,
    SmsTotal,
    CaptchaPerIp,
    RegisterPerIp,
    /// Password resets (`POST /password/reset`) per address: each right code costs a bcrypt hash.
    ResetPerIp,
    /// Login attempts on one mobile from every address (each address has its own 5 per 10
    /// minutes in the store: `Store::reserve_login_attempt`).
    LoginPerMobile,
}

impl Budget {
    /// The counter's name in keys, logs and metrics.
    pub const fn name(self) -> &'static str {
        match self {
            Budget::SmsPerIp => "sms-ip",
            Budget::SmsPerMobile => "sms-mobile",
            Budget::SmsTotal => "sms-total",
            Budget::CaptchaPerIp => "captcha-ip",
            Budget::RegisterPerIp => "register-ip",
            Budget::ResetPerIp => "reset-ip",
            Budget::LoginPerMobile => "login-mobile",
        }
    }

    /// Whether, with the cache tier down, this budget's work is refused rather than counted in
    /// the store: an SMS costs money, and two separate counts would let its budget be spent twice.
    pub const fn fails_closed(self) -> bool {
        matches!(self, Budget::SmsPerIp | Budget::SmsPerMobile | Budget::SmsTotal)
    }

    pub fn quota(self, limits: &Limits) -> Quota {
        match self {
            Budget::SmsPerIp => limits.sms_per_ip,
            Budget::SmsPerMobile => limits.sms_per_mobile,
            Budget::SmsTotal => limits.sms_total,
            Budget::CaptchaPerIp => limits.captcha_per_ip,
            Budget::RegisterPerIp => limits.register_per_ip,
            Budget::ResetPerIp => limits.reset_per_ip,
            Budget::LoginPerMobile => limits.login_per_mobile,
        }
    }

    /// The answer when this budget is spent: IPERR for an address, REQERR for a mobile, THIRDERR
    /// when the whole stack's SMS budget (a circuit breaker) is spent.
    pub fn refusal(self) -> ApiError {
        match self {
            Budget::SmsPerIp | Budget::CaptchaPerIp | Budget::RegisterPerIp | Budget::ResetPerIp => {
                ApiError::new(Errno::IpErr, "请求过于频繁，请稍后重试")
            }
            Budget::SmsPerMobile => ApiError::req("该手机号今日获取验证码次数过多，请明天再试"),
            Budget::SmsTotal => ApiError::new(Errno::ThirdErr, "短信服务繁忙，请稍后重试"),
            Budget::LoginPerMobile => ApiError::req("错误次数过多，请稍后重试"),
        }
    }
}

/// Whose budget: an address, a mobile, or everyone's.
#[derive(Clone, PartialEq, Eq)]
pub enum Subject {
    Ip(Option<ClientIp>),
    Mobile(Mobile),
    Everyone,
}

impl Subject {
    fn key_part(&self) -> String {
        match self {
            // No address (only outside API Gateway and the local server): one shared budget.
            Subject::Ip(ip) => ip.map_or_else(|| "unknown".to_owned(), |ip| ip.bucket()),
            Subject::Mobile(m) => m.as_str().to_owned(),
            Subject::Everyone => "all".to_owned(),
        }
    }
}

/// Masked like every mobile in the logs.
impl fmt::Display for Subject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Subject::Ip(Some(ip)) => write!(f, "{ip}"),
            Subject::Ip(None) => f.write_str("unknown address"),
            Subject::Mobile(m) => write!(f, "{}", m.masked()),
            Subject::Everyone => f.write_str("all"),
        }
    }
}

/// One budget of one subject, with its quota.
#[derive(Clone, PartialEq, Eq)]
pub struct Counter {
    pub budget: Budget,
    pub subject: Subject,
    pub quota: Quota,
}

/// A counter's item in the window containing some instant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WindowKey {
    pub key: String,
    /// When the window ends: the item may go then (its TTL).
    pub expires_at: i64,
}

impl Counter {
    pub fn new(budget: Budget, subject: Subject, limits: &Limits) -> Self {
        Counter { budget, subject, quota: budget.quota(limits) }
    }

    pub fn window_key(&self, now: i64) -> WindowKey {
        let window = self.quota.window.max(1);
        let index = now.div_euclid(window);
        WindowKey {
            key: format!(
                "{}{}#{}#{index}",
                crate::store::keys::LIMIT_PREFIX,
                self.budget.name(),
                self.subject.key_part()
            ),
            expires_at: (index + 1) * window,
        }
    }
}

impl fmt::Debug for Counter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Counter({} of {}, {}/{}s)", self.budget.name(), self.subject, self.quota.max, self.quota.window)
    }
}

/// The limiter port.
pub trait Limiter: Send + Sync {
    /// Takes one unit from every counter, all or none: `Ok(None)` when taken; `Ok(Some(i))` when
    /// `counters[i]` was spent, and then nothing stays taken.
    fn take<'a>(
        &'a self,
        counters: &'a [Counter],
        now: i64,
    ) -> impl Future<Output = Result<Option<usize>, StoreError>> + Send + 'a;

    /// Gives one unit back to each counter whose window is still open (taken for work that
    /// then did not happen: an SMS that could not be sent).
    fn give_back<'a>(
        &'a self,
        counters: &'a [Counter],
        now: i64,
    ) -> impl Future<Output = Result<(), StoreError>> + Send + 'a;

    /// Units used in `counter`'s current window.
    fn used<'a>(&'a self, counter: &'a Counter, now: i64) -> impl Future<Output = Result<u32, StoreError>> + Send + 'a;
}

/// Takes from `counters`, or answers the refusal of the first one spent.
pub async fn take_or_refuse<L: Limiter>(limiter: &L, counters: &[Counter], now: i64) -> Result<(), ApiError> {
    let spent = limiter.take(counters, now).await.map_err(ApiError::db("查询请求次数失败"))?;
    match spent.and_then(|i| counters.get(i)) {
        None => Ok(()),
        Some(c) => {
            tracing::warn!(budget = c.budget.name(), subject = %c.subject, max = c.quota.max, "budget spent: refused");
            crate::metrics::emit(crate::metrics::Metric::BudgetRefused(c.budget));
            Err(c.budget.refusal())
        }
    }
}

/// Gives back what `take_or_refuse` took, logging (not failing) when it cannot.
pub async fn give_back<L: Limiter>(limiter: &L, counters: &[Counter], now: i64) {
    if let Err(e) = limiter.give_back(counters, now).await {
        tracing::warn!(error = %e, "could not give back budget units");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_name_the_budget_the_subject_and_the_window() {
        let limits = Limits::default();
        let ip = ClientIp::parse("203.0.113.24");
        let c = Counter::new(Budget::SmsPerIp, Subject::Ip(ip), &limits);
        let k = c.window_key(7_200);
        assert_eq!(k.key, "LIMIT#sms-ip#203.0.113.24#2");
        assert_eq!(k.expires_at, 10_800);
        assert_eq!(c.window_key(10_799).key, k.key);
        assert_ne!(c.window_key(10_800).key, k.key);
        let m = Mobile::parse("13812345678").unwrap();
        let c = Counter::new(Budget::SmsPerMobile, Subject::Mobile(m), &limits);
        assert_eq!(c.window_key(0).key, "LIMIT#sms-mobile#13812345678#0");
        assert_eq!(format!("{c:?}"), "Counter(sms-mobile of 138****5678, 10/86400s)");
        assert_eq!(
            Counter::new(Budget::SmsTotal, Subject::Everyone, &limits).window_key(0).key,
            "LIMIT#sms-total#all#0"
        );
    }

    #[test]
    fn refusals_follow_the_issue_table() {
        assert_eq!(Budget::SmsPerIp.refusal().errno(), Errno::IpErr);
        assert_eq!(Budget::CaptchaPerIp.refusal().errno(), Errno::IpErr);
        assert_eq!(Budget::RegisterPerIp.refusal().errno(), Errno::IpErr);
        assert_eq!(Budget::SmsPerMobile.refusal().errno(), Errno::ReqErr);
        assert_eq!(Budget::SmsTotal.refusal().errno(), Errno::ThirdErr);
        assert_eq!(Budget::LoginPerMobile.refusal().errno(), Errno::ReqErr);
    }
}
