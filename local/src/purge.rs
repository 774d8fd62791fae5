//! Housekeeping of the embedded store. DynamoDB deletes expired items itself (TTL on
//! `expires_at`); redb has no TTL, so without this task every captcha, SMS code, session and
//! login-failure count ever written would stay in the file.

use std::sync::Arc;
use std::time::Duration;

use ihome::clock::Clock;
use ihome::store::StoreError;

use crate::EmbeddedStore;

/// How often the task runs and how much each of its write transactions deletes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PurgeConfig {
    pub interval: Duration,
    /// Items deleted per write transaction: redb has one writer, so requests wait at most for
    /// one batch.
    pub batch: usize,
}

impl Default for PurgeConfig {
    fn default() -> Self {
        PurgeConfig { interval: Duration::from_secs(60), batch: 256 }
    }
}

/// One pass: deletes every item expired by `clock`'s time; answers how many.
pub async fn pass(store: &EmbeddedStore, clock: &dyn Clock, batch: usize) -> Result<usize, StoreError> {
    store.purge_expired(clock.now(), batch).await
}

/// Runs a pass now and then every `config.interval`, until the handle is aborted or the runtime
/// stops. A failed pass is logged and retried at the next tick.
pub fn spawn(store: EmbeddedStore, clock: Arc<dyn Clock>, config: PurgeConfig) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(config.interval);
        // After a slow pass, wait a whole interval again rather than catch up in a burst.
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            match pass(&store, clock.as_ref(), config.batch).await {
                Ok(0) => {}
                Ok(removed) => tracing::debug!(removed, "purged expired items from the embedded store"),
                Err(e) => tracing::warn!(error = %e, "purging expired items failed; retrying next interval"),
            }
        }
    })
}
