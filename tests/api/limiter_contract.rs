//! The limiter's contract, run against every adapter: DynamoDB on moto's server (linearizable,
//! as DynamoDB is), the embedded store and Redis (the test command's redis-server). Counts are exact under races, all-or-none across
//! counters, per subject and per window.

use std::sync::Arc;

use futures_util::future::join_all;
use ihome::config::Limits;
use ihome::domain::{ClientIp, Mobile};
use ihome::limits::{Budget, Counter, Limiter, Quota, Subject};
use ihome_tests::{T0, unique_mobile};

use crate::adapters::{dynamo, embedded, redis};

/// A counter of `max` per hour for a fresh address.
fn per_ip(max: u32) -> Counter {
    // A /64 of its own per counter, so tests sharing a table never share an address.
    let ip = ClientIp::parse(&format!("2001:db8:{:x}:{:x}::1", rand::random::<u16>(), rand::random::<u16>()));
    let mut c = Counter::new(Budget::SmsPerIp, Subject::Ip(ip), &Limits::default());
    c.quota = Quota::new(max, 3600);
    c
}

fn per_mobile(max: u32) -> Counter {
    let m = Mobile::parse(&unique_mobile()).expect("mobile");
    let mut c = Counter::new(Budget::SmsPerMobile, Subject::Mobile(m), &Limits::default());
    c.quota = Quota::new(max, 86_400);
    c
}

async fn counts_up_to_the_quota_in_each_window<L: Limiter>(limiter: L) {
    let c = [per_ip(3)];
    for _ in 0..3 {
        assert_eq!(limiter.take(&c, T0).await.unwrap(), None);
    }
    assert_eq!(limiter.take(&c, T0).await.unwrap(), Some(0), "the fourth is refused");
    assert_eq!(limiter.used(&c[0], T0).await.unwrap(), 3, "a refusal takes nothing");
    // The next window starts from nothing.
    let next = (T0 / 3600 + 1) * 3600;
    assert_eq!(limiter.take(&c, next).await.unwrap(), None);
    assert_eq!(limiter.used(&c[0], next).await.unwrap(), 1);
}

async fn takes_all_counters_or_none<L: Limiter>(limiter: L) {
    let counters = [per_ip(5), per_mobile(1)];
    assert_eq!(limiter.take(&counters, T0).await.unwrap(), None);
    assert_eq!(limiter.take(&counters, T0).await.unwrap(), Some(1), "the mobile's budget is spent");
    assert_eq!(limiter.used(&counters[0], T0).await.unwrap(), 1, "the address's unit went back");
    assert_eq!(limiter.used(&counters[1], T0).await.unwrap(), 1);
    // Subjects are apart: another address still has its whole budget.
    let other = [per_ip(1)];
    assert_eq!(limiter.take(&other, T0).await.unwrap(), None);
}

async fn given_back_units_can_be_taken_again<L: Limiter>(limiter: L) {
    let c = [per_mobile(2)];
    assert_eq!(limiter.take(&c, T0).await.unwrap(), None);
    assert_eq!(limiter.take(&c, T0).await.unwrap(), None);
    assert_eq!(limiter.take(&c, T0).await.unwrap(), Some(0));
    limiter.give_back(&c, T0).await.unwrap();
    assert_eq!(limiter.used(&c[0], T0).await.unwrap(), 1);
    assert_eq!(limiter.take(&c, T0).await.unwrap(), None);
    // Giving back to a counter that never counted changes nothing and does not fail.
    let fresh = [per_ip(1)];
    limiter.give_back(&fresh, T0).await.unwrap();
    assert_eq!(limiter.used(&fresh[0], T0).await.unwrap(), 0);
}

/// 50 concurrent takes of one counter count 50.
async fn racing_takes_count_every_one<L: Limiter + 'static>(limiter: L) {
    let limiter = Arc::new(limiter);
    let c = per_ip(1000);
    let answers = join_all((0..50).map(|_| {
        let (limiter, c) = (limiter.clone(), [c.clone()]);
        tokio::spawn(async move { limiter.take(&c, T0).await.unwrap() })
    }))
    .await;
    assert!(answers.iter().all(|a| matches!(a, Ok(None))), "{answers:?}");
    assert_eq!(limiter.used(&c, T0).await.unwrap(), 50);
}

/// 50 concurrent takes of a budget of 10: exactly 10 pass, however they interleave.
async fn racing_takes_never_pass_the_quota<L: Limiter + 'static>(limiter: L) {
    let limiter = Arc::new(limiter);
    let counters = [per_ip(10), per_mobile(1000)];
    let answers = join_all((0..50).map(|_| {
        let (limiter, counters) = (limiter.clone(), counters.clone());
        tokio::spawn(async move { limiter.take(&counters, T0).await.unwrap() })
    }))
    .await;
    let passed = answers.iter().filter(|a| matches!(a, Ok(None))).count();
    assert_eq!(passed, 10, "{answers:?}");
    assert_eq!(limiter.used(&counters[0], T0).await.unwrap(), 10);
    assert_eq!(limiter.used(&counters[1], T0).await.unwrap(), 10, "refused takes gave their units back");
}

contract!(
    on_dynamodb: dynamo, on_embedded: embedded, on_redis: redis;
    [
        counts_up_to_the_quota_in_each_window,
        takes_all_counters_or_none,
        given_back_units_can_be_taken_again,
        racing_takes_count_every_one,
        racing_takes_never_pass_the_quota,
    ]
);
