//! The limiter the routes use: the cache tier when it is on, the store's own counters otherwise,
//! and a rule for when the cache is down or slow.
//!
//! A cache call that fails or takes longer than `SLOW` (200 ms) marks the cache down for
//! `DOWN_FOR`, so an outage costs a request one wait, not every request. While it is down:
//! - budgets whose work costs money (the SMS budgets) refuse: THIRDERR, never an unmetered SMS
//!   and never a second, separate count that would let the budget be spent twice;
//! - every other budget (captchas, registrations, logins) is counted in the store instead.

use std::sync::Arc;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::{RedisCounters, SLOW};
use crate::limits::{Budget, Counter, Limiter};
use crate::store::StoreError;

/// How long a failed or slow cache is left alone before it is tried again.
pub const DOWN_FOR: Duration = Duration::from_secs(5);

pub struct Counters<F> {
    cache: Option<Arc<RedisCounters>>,
    fallback: F,
    down_until: Mutex<Option<Instant>>,
}

impl<F> Counters<F> {
    /// Counters in `fallback` only (no cache tier).
    pub fn store_only(fallback: F) -> Self {
        Counters { cache: None, fallback, down_until: Mutex::new(None) }
    }

    /// Counters in the cache, with `fallback` for when it is down.
    pub fn cached(cache: Arc<RedisCounters>, fallback: F) -> Self {
        Counters { cache: Some(cache), fallback, down_until: Mutex::new(None) }
    }

    /// The cache, unless it is marked down.
    fn cache(&self) -> Option<&RedisCounters> {
        let cache = self.cache.as_deref()?;
        let down = self.down_until.lock().map(|d| d.is_some_and(|t| Instant::now() < t)).unwrap_or(false);
        (!down).then_some(cache)
    }

    /// Runs a cache call within `SLOW`; `None` (and the cache marked down) if it failed or was slow.
    async fn bounded<T>(&self, op: &'static str, call: impl Future<Output = Result<T, StoreError>>) -> Option<T> {
        let error = match tokio::time::timeout(SLOW, call).await {
            Ok(Ok(v)) => return Some(v),
            Ok(Err(e)) => e.to_string(),
            Err(_) => format!("no answer within {SLOW:?}"),
        };
        tracing::warn!(op, error = %error, down_for = ?DOWN_FOR, "cache unavailable");
        crate::metrics::emit(crate::metrics::Metric::CacheUnavailable);
        if let Ok(mut d) = self.down_until.lock() {
            *d = Some(Instant::now() + DOWN_FOR);
        }
        None
    }
}

/// With the cache down: the index of the counter whose refusal answers for the request, if any
/// of them may not be counted elsewhere (the stack's SMS breaker first: THIRDERR).
fn fail_closed(counters: &[Counter]) -> Option<usize> {
    counters
        .iter()
        .position(|c| c.budget == Budget::SmsTotal)
        .or_else(|| counters.iter().position(|c| c.budget.fails_closed()))
}

impl<F: Limiter> Limiter for Counters<F> {
    async fn take(&self, counters: &[Counter], now: i64) -> Result<Option<usize>, StoreError> {
        if self.cache.is_none() {
            return self.fallback.take(counters, now).await;
        }
        if let Some(cache) = self.cache()
            && let Some(taken) = self.bounded("take", cache.take(counters, now)).await
        {
            return Ok(taken);
        }
        if let Some(i) = fail_closed(counters) {
            tracing::warn!(budget = counters[i].budget.name(), "cache unavailable: refused rather than unmetered");
            return Ok(Some(i));
        }
        self.fallback.take(counters, now).await
    }

    /// Units taken from the cache go back to it; when it is down they stay taken (a lost unit
    /// errs on the safe side). Only fail-closed budgets give back, and those never fall back.
    async fn give_back(&self, counters: &[Counter], now: i64) -> Result<(), StoreError> {
        if self.cache.is_none() {
            return self.fallback.give_back(counters, now).await;
        }
        if let Some(cache) = self.cache() {
            self.bounded("give back", cache.give_back(counters, now)).await;
        }
        Ok(())
    }

    async fn used(&self, counter: &Counter, now: i64) -> Result<u32, StoreError> {
        if let Some(cache) = self.cache()
            && let Some(used) = self.bounded("used", cache.used(counter, now)).await
        {
            return Ok(used);
        }
        self.fallback.used(counter, now).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Limits;
    use crate::limits::Subject;

    #[test]
    fn sms_refuses_with_the_breaker_first() {
        let l = Limits::default();
        let ip = Counter::new(Budget::SmsPerIp, Subject::Ip(None), &l);
        let all = Counter::new(Budget::SmsTotal, Subject::Everyone, &l);
        let captcha = Counter::new(Budget::CaptchaPerIp, Subject::Ip(None), &l);
        assert_eq!(fail_closed(&[ip.clone(), all]), Some(1));
        assert_eq!(fail_closed(&[captcha.clone(), ip]), Some(1));
        assert_eq!(fail_closed(&[captcha]), None);
    }
}
