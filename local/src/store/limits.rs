//! The embedded limiter: one item per counter and window, read and written in one redb write
//! transaction, so counters are exact under any concurrency (redb has one writer at a time).

use ihome::limits::{Counter, Limiter};
use ihome::store::StoreError;
use redb::Durability;
use serde::{Deserialize, Serialize};

use super::{EmbeddedStore, expired};

#[derive(Serialize, Deserialize)]
struct LimitItem {
    used: u32,
    expires_at: i64,
}

impl Limiter for EmbeddedStore {
    async fn take(&self, counters: &[Counter], now: i64) -> Result<Option<usize>, StoreError> {
        let windows: Vec<_> = counters.iter().map(|c| (c.window_key(now), c.quota.max)).collect();
        // A count lost in a crash only refills a budget early: no fsync for it (the captcha
        // route takes one on every draw).
        self.write_with("take budget", Durability::None, move |tx| {
            let mut used = Vec::with_capacity(windows.len());
            for (i, (window, max)) in windows.iter().enumerate() {
                let n =
                    tx.get::<LimitItem>(&window.key)?.filter(|it| !expired(it.expires_at, now)).map_or(0, |it| it.used);
                if n >= *max {
                    return Ok(Some(i));
                }
                used.push(n);
            }
            for ((window, _), n) in windows.iter().zip(used) {
                tx.put(&window.key, &LimitItem { used: n + 1, expires_at: window.expires_at })?;
            }
            Ok(None)
        })
        .await
    }

    async fn give_back(&self, counters: &[Counter], now: i64) -> Result<(), StoreError> {
        let windows: Vec<_> = counters.iter().map(|c| c.window_key(now)).collect();
        self.write_with("give back budget", Durability::None, move |tx| {
            for window in &windows {
                if let Some(item) =
                    tx.get::<LimitItem>(&window.key)?.filter(|it| !expired(it.expires_at, now) && it.used > 0)
                {
                    tx.put(&window.key, &LimitItem { used: item.used - 1, ..item })?;
                }
            }
            Ok(())
        })
        .await
    }

    async fn used(&self, counter: &Counter, now: i64) -> Result<u32, StoreError> {
        let window = counter.window_key(now);
        let item: Option<LimitItem> = self.read_one("read budget", window.key).await?;
        Ok(item.filter(|it| !expired(it.expires_at, now)).map_or(0, |it| it.used))
    }
}
