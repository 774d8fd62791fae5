//! The cache tier: the abuse counters in Redis (ElastiCache for Valkey under Lambda, any Redis
//! locally), when `IHOME_CACHE_ENDPOINT` or `IHOME_CACHE_NAME` is set; in the store otherwise.
//! `Counters` is the limiter the routes hold, with the rule for a cache that is down or slow.

mod connect;
mod counters;
mod endpoint;
pub mod lookup;
mod redis_counters;

use std::time::Duration;

pub use counters::{Counters, DOWN_FOR};
pub use endpoint::{CacheEndpoint, CacheSetting};
pub use redis_counters::RedisCounters;

/// A cache answer slower than this counts as the cache being down (the 200 ms).
pub const SLOW: Duration = Duration::from_millis(200);
