//! The DynamoDB limiter: one item per counter and window, `ADD`ed under a condition, so a count
//! never passes its quota however many race, and the table's TTL removes it with its window.

use futures_util::future::join_all;

use super::{DynamoStore, backend, conditional_failed, get_n, key, n};
use crate::limits::{Counter, Limiter};
use crate::store::StoreError;
use crate::store::keys::TTL;

const USED: &str = "used";

impl DynamoStore {
    /// One unit of `counter`, unless its window's count has reached the quota.
    async fn take_one(&self, counter: &Counter, now: i64) -> Result<bool, StoreError> {
        let window = counter.window_key(now);
        let taken = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(window.key)))
            .update_expression("ADD #used :one SET #ttl = :expires")
            .condition_expression("attribute_not_exists(#used) OR #used < :max")
            .expression_attribute_names("#used", USED)
            .expression_attribute_names("#ttl", TTL)
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":max", n(counter.quota.max))
            .expression_attribute_values(":expires", n(window.expires_at))
            .send()
            .await;
        match taken {
            Ok(_) => Ok(true),
            Err(e) if conditional_failed(&e) => Ok(false),
            Err(e) => Err(backend("take budget")(e)),
        }
    }

    async fn give_back_one(&self, counter: &Counter, now: i64) -> Result<(), StoreError> {
        let window = counter.window_key(now);
        let given = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(window.key)))
            .update_expression("ADD #used :minus_one")
            .condition_expression("#used > :zero")
            .expression_attribute_names("#used", USED)
            .expression_attribute_values(":minus_one", n(-1))
            .expression_attribute_values(":zero", n(0))
            .send()
            .await;
        match given {
            // Nothing to give back to: the window has gone (or never counted).
            Ok(_) => Ok(()),
            Err(e) if conditional_failed(&e) => Ok(()),
            Err(e) => Err(backend("give back budget")(e)),
        }
    }
}

impl Limiter for DynamoStore {
    /// Every counter in parallel (one round trip of latency); when one refuses, the units the
    /// others took go back. Between the two a racer may see a count one too high and be refused:
    /// the error is always towards refusing, never towards admitting.
    #[inline(never)]
    fn take<'a>(
        &'a self,
        counters: &'a [Counter],
        now: i64,
    ) -> impl Future<Output = Result<Option<usize>, StoreError>> + Send + 'a {
        crate::boxed(async move {
            let results = join_all(counters.iter().map(|c| self.take_one(c, now))).await;
            let spent = results.iter().position(|r| matches!(r, Ok(false)));
            let failed = results.iter().any(Result::is_err);
            if spent.is_some() || failed {
                let taken: Vec<Counter> = counters
                    .iter()
                    .zip(&results)
                    .filter(|(_, r)| matches!(r, Ok(true)))
                    .map(|(c, _)| c.clone())
                    .collect();
                self.give_back(&taken, now).await?;
            }
            if let Some(err) = results.into_iter().find_map(Result::err) {
                return Err(err);
            }
            Ok(spent)
        })
    }

    #[inline(never)]
    fn give_back<'a>(
        &'a self,
        counters: &'a [Counter],
        now: i64,
    ) -> impl Future<Output = Result<(), StoreError>> + Send + 'a {
        crate::boxed(async move {
            join_all(counters.iter().map(|c| self.give_back_one(c, now))).await.into_iter().collect()
        })
    }

    #[inline(never)]
    fn used<'a>(&'a self, counter: &'a Counter, now: i64) -> impl Future<Output = Result<u32, StoreError>> + Send + 'a {
        crate::boxed(async move {
            let window = counter.window_key(now);
            let out = self
                .client
                .get_item()
                .table_name(&self.table)
                .set_key(Some(key(window.key)))
                .consistent_read(true)
                .send()
                .await
                .map_err(backend("read budget"))?;
            Ok(out.item().and_then(|item| get_n::<u32>(item, USED)).unwrap_or(0))
        })
    }
}
