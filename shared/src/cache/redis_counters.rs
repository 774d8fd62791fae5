//! The limiter port on Redis: each take is one Lua script (one round trip), atomic in the server,
//! so counters are exact under any concurrency and taken all or none.
//!
//! Keys are the DynamoDB adapter's window keys behind a hash tag naming the table,
//! `{ihome}:LIMIT#sms-ip#203.0.113.24#492187`: one stack's counters share a slot, which a
//! multi-key script needs on a cluster-mode cache (ElastiCache Serverless is one), and stacks
//! sharing a cache keep apart. A counter expires with its window.

use std::sync::Arc;
use std::time::Duration;

use aws_types::SdkConfig;
use redis::Script;
use tokio::sync::Mutex;

use super::connect::{self, Open};
use super::{CacheEndpoint, CacheSetting, SLOW};
use crate::limits::{Counter, Limiter};
use crate::store::StoreError;

/// Checks every counter, then counts in every one: `0` when taken, else the 1-based index of the
/// first spent counter (nothing taken). ARGV holds each counter's max and TTL in turn.
const TAKE: &str = r"
for i = 1, #KEYS do
  if tonumber(redis.call('GET', KEYS[i]) or '0') >= tonumber(ARGV[2 * i - 1]) then return i end
end
for i = 1, #KEYS do
  if redis.call('INCR', KEYS[i]) == 1 then redis.call('EXPIRE', KEYS[i], ARGV[2 * i]) end
end
return 0
";

/// One unit back to each counter that still counts some.
const GIVE_BACK: &str = r"
for i = 1, #KEYS do
  if tonumber(redis.call('GET', KEYS[i]) or '0') > 0 then redis.call('DECR', KEYS[i]) end
end
return 0
";

enum Source {
    Endpoint(CacheEndpoint),
    Lookup { client: aws_sdk_elasticache::Client, name: String },
}

struct State {
    endpoint: Option<CacheEndpoint>,
    open: Option<Open>,
}

pub struct RedisCounters {
    source: Source,
    /// `{<table>}:`.
    prefix: String,
    state: Mutex<State>,
    /// TLS trust other than the default (Amazon's roots, `SSL_CERT_FILE`): `trusting`.
    trust: Option<Arc<rustls::ClientConfig>>,
    take: Script,
    give_back: Script,
}

impl RedisCounters {
    /// Counters at `endpoint`, for the stack whose table is `table`. Connects on first use.
    pub fn new(endpoint: CacheEndpoint, table: &str) -> Self {
        Self::with_source(Source::Endpoint(endpoint), table)
    }

    /// Counters at the cache `setting` names; a name is looked up with the ElastiCache API.
    pub fn from_setting(setting: &CacheSetting, sdk: &SdkConfig, table: &str) -> Self {
        match setting {
            CacheSetting::Endpoint(e) => Self::new(e.clone(), table),
            CacheSetting::Name(name) => {
                Self::with_source(Source::Lookup { client: super::lookup::client(sdk), name: name.clone() }, table)
            }
        }
    }

    fn with_source(source: Source, table: &str) -> Self {
        RedisCounters {
            source,
            prefix: format!("{{{table}}}:"),
            state: Mutex::new(State { endpoint: None, open: None }),
            trust: None,
            take: Script::new(TAKE),
            give_back: Script::new(GIVE_BACK),
        }
    }

    /// Also trusts the PEM certificates in `ca`: a self-managed Redis behind a private CA.
    pub fn trusting(mut self, ca: &[u8]) -> Result<Self, String> {
        self.trust = Some(crate::tls::trusting(ca)?);
        Ok(self)
    }

    /// Finds the endpoint and opens the connection (and loads the take script), so the first
    /// request finds them ready. Failures are logged; requests retry.
    pub async fn warm_up(&self) {
        let loaded = async {
            let mut conn = self.connection().await?;
            self.take.load_async(&mut conn).await.map_err(|e| self.failed("SCRIPT LOAD", e))
        };
        if let Err(e) = loaded.await {
            tracing::warn!(error = %e, "cache not ready at start-up; requests will retry");
        }
    }

    /// The redis key of a counter's current window, and seconds until that window ends.
    fn key(&self, counter: &Counter, now: i64) -> (String, i64) {
        let w = counter.window_key(now);
        (format!("{}{}", self.prefix, w.key), (w.expires_at - now).max(1))
    }

    async fn connection(&self) -> Result<redis::aio::MultiplexedConnection, StoreError> {
        let mut state = self.state.lock().await;
        if let Some(open) = &state.open {
            return Ok(open.conn.clone());
        }
        let endpoint = match &state.endpoint {
            Some(e) => e.clone(),
            None => {
                let e = match &self.source {
                    Source::Endpoint(e) => e.clone(),
                    Source::Lookup { client, name } => super::lookup::find(client, name)
                        .await
                        .map_err(|detail| StoreError::Backend { op: "cache look-up", detail })?,
                };
                tracing::info!(endpoint = %e, "cache endpoint");
                state.endpoint = Some(e.clone());
                e
            }
        };
        let open = tokio::time::timeout(CONNECT_LIMIT, connect::open(&endpoint, self.trust.as_ref(), SLOW))
            .await
            .map_err(|_| StoreError::Backend { op: "cache connect", detail: format!("{endpoint}: timed out") })?
            .map_err(|detail| StoreError::Backend { op: "cache connect", detail })?;
        let conn = open.conn.clone();
        state.open = Some(open);
        Ok(conn)
    }

    /// Logs nothing (the caller decides) but drops the connection, so the next call reconnects.
    fn failed(&self, op: &'static str, e: redis::RedisError) -> StoreError {
        if let Ok(mut state) = self.state.try_lock()
            && let Some(open) = state.open.take()
        {
            open.driver.abort();
        }
        StoreError::Backend { op, detail: e.to_string() }
    }
}

/// A TLS connect inside a VPC takes a few milliseconds; this bounds a broken network.
const CONNECT_LIMIT: Duration = Duration::from_secs(1);

impl Limiter for RedisCounters {
    #[inline(never)]
    fn take<'a>(
        &'a self,
        counters: &'a [Counter],
        now: i64,
    ) -> impl Future<Output = Result<Option<usize>, StoreError>> + Send + 'a {
        crate::boxed(async move {
            if counters.is_empty() {
                return Ok(None);
            }
            let mut call = self.take.prepare_invoke();
            for c in counters {
                let (key, ttl) = self.key(c, now);
                call.key(key).arg(c.quota.max).arg(ttl);
            }
            let mut conn = self.connection().await?;
            let spent: i64 = call.invoke_async(&mut conn).await.map_err(|e| self.failed("cache take", e))?;
            match spent {
                0 => Ok(None),
                i => usize::try_from(i - 1)
                    .ok()
                    .filter(|i| *i < counters.len())
                    .map(Some)
                    .ok_or(StoreError::Corrupt { op: "cache take", what: "the script's answer" }),
            }
        })
    }

    #[inline(never)]
    fn give_back<'a>(
        &'a self,
        counters: &'a [Counter],
        now: i64,
    ) -> impl Future<Output = Result<(), StoreError>> + Send + 'a {
        crate::boxed(async move {
            if counters.is_empty() {
                return Ok(());
            }
            let mut call = self.give_back.prepare_invoke();
            for c in counters {
                call.key(self.key(c, now).0);
            }
            let mut conn = self.connection().await?;
            call.invoke_async::<i64>(&mut conn).await.map_err(|e| self.failed("cache give back", e))?;
            Ok(())
        })
    }

    #[inline(never)]
    fn used<'a>(&'a self, counter: &'a Counter, now: i64) -> impl Future<Output = Result<u32, StoreError>> + Send + 'a {
        crate::boxed(async move {
            let mut conn = self.connection().await?;
            let used: Option<u32> = redis::cmd("GET")
                .arg(self.key(counter, now).0)
                .query_async(&mut conn)
                .await
                .map_err(|e| self.failed("cache get", e))?;
            Ok(used.unwrap_or(0))
        })
    }
}
