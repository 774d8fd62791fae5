//! What a route runs with: configuration, its ports and a clock, built once per container.
//!
//! `App` is generic over its ports, so a function holds only the adapters its route calls: most
//! are `App<DynamoStore>`; `sms-code` adds an SMS sender, `upload-avatar` an avatar store, and
//! the routes with abuse budgets (captcha, SMS, register) a limiter. The unit type `()` stands
//! for a port the route does not have, and no route that needs one accepts it.

use std::sync::Arc;

use crate::clock::{Clock, SystemClock};
use crate::config::Config;
use crate::domain::{PasswordHash, SessionToken};
use crate::error::ApiError;
use crate::store::{Authenticated, Store};

pub struct App<S, M = (), A = (), L = ()> {
    pub config: Config,
    pub store: S,
    pub sms: M,
    pub avatars: A,
    /// Abuse budget counters (`crate::limits`).
    pub limiter: L,
    pub clock: Arc<dyn Clock>,
    /// Verified against when a mobile is unknown, so login timing does not tell.
    pub dummy_hash: PasswordHash,
}

impl<S: Store, M, A> App<S, M, A> {
    pub fn new(config: Config, store: S, sms: M, avatars: A) -> Self {
        Self::with_clock(config, store, sms, avatars, Arc::new(SystemClock))
    }

    pub fn with_clock(config: Config, store: S, sms: M, avatars: A, clock: Arc<dyn Clock>) -> Self {
        let dummy_hash = PasswordHash::dummy(config.bcrypt_cost);
        App { config, store, sms, avatars, limiter: (), clock, dummy_hash }
    }
}

impl<S: Store, M, A, L> App<S, M, A, L> {
    /// The same app counting its budgets with `limiter`.
    pub fn with_limiter<L2>(self, limiter: L2) -> App<S, M, A, L2> {
        let App { config, store, sms, avatars, limiter: _, clock, dummy_hash } = self;
        App { config, store, sms, avatars, limiter, clock, dummy_hash }
    }

    pub fn now(&self) -> i64 {
        self.clock.now()
    }

    /// Today's date as `YYYYMMDD` in the configured local time (bounds ID card birth dates).
    pub fn today(&self) -> u32 {
        let offset = time::UtcOffset::from_hms(self.config.utc_offset_hours, 0, 0).unwrap_or(time::UtcOffset::UTC);
        time::OffsetDateTime::from_unix_timestamp(self.now())
            .map(|t| t.to_offset(offset).date())
            .map(|d| d.year() as u32 * 10_000 + u32::from(u8::from(d.month())) * 100 + u32::from(d.day()))
            .unwrap_or(0)
    }

    /// The caller's live session (and user), or SESSIONERR.
    pub async fn authenticate(&self, token: &SessionToken) -> Result<Authenticated, ApiError> {
        self.store
            .authenticate(token, self.now())
            .await
            .map_err(ApiError::db("查询登录状态失败"))?
            .ok_or_else(ApiError::session)
    }
}
