//! The session index: a `sessions` map in the user's item, token hash → expiry (epoch seconds).
//! One read authenticates (with the profile), one write ends one session or all of them, and the
//! sessions go with the account. Bounded by `MAX_SESSIONS`.

use aws_sdk_dynamodb::types::{AttributeValue, ConditionCheck, TransactWriteItem, Update};

use super::{DynamoStore, Item, StoreError, backend, cancelled, key, n, s};
use crate::domain::{MAX_SESSIONS, Mobile, PasswordHash, TokenHash, sessions_kept_for_one_more};
use crate::store::NewSession;
use crate::store::keys;

pub(super) const ATTR: &str = "sessions";

/// A map attribute of sessions.
pub(super) fn map<'a>(entries: impl IntoIterator<Item = (&'a str, i64)>) -> AttributeValue {
    AttributeValue::M(entries.into_iter().map(|(hash, expires_at)| (hash.to_owned(), n(expires_at))).collect())
}

/// The expiry of one session in an item read with its `sessions` map (or that one entry of it).
pub(super) fn expiry(item: &Item, hash: &TokenHash) -> Option<i64> {
    let sessions = item.get(ATTR)?.as_m().ok()?;
    sessions.get(hash.as_str())?.as_n().ok()?.parse().ok()
}

/// The mobile's password is still the one the login verified (and still this user's).
fn password_unchanged(
    store: &DynamoStore,
    mobile: &Mobile,
    verified: &PasswordHash,
    session: &NewSession,
) -> Result<TransactWriteItem, StoreError> {
    let check = ConditionCheck::builder()
        .table_name(&store.table)
        .set_key(Some(key(keys::mobile(mobile))))
        .condition_expression("password_hash = :verified AND user_id = :uid")
        .expression_attribute_values(":verified", s(verified.as_str()))
        .expression_attribute_values(":uid", n(session.user_id.get()))
        .build()
        .map_err(backend("add session"))?;
    Ok(TransactWriteItem::builder().condition_check(check).build())
}

pub(super) async fn add(
    store: &DynamoStore,
    mobile: &Mobile,
    verified: &PasswordHash,
    session: &NewSession,
    now: i64,
) -> Result<bool, StoreError> {
    // The common case, one round trip: the index has room, the entry is added in place.
    let add = Update::builder()
        .table_name(&store.table)
        .set_key(Some(key(keys::user(session.user_id))))
        .update_expression("SET #sessions.#token = :expires")
        .condition_expression("size(#sessions) < :max")
        .expression_attribute_names("#sessions", ATTR)
        .expression_attribute_names("#token", session.token_hash.as_str())
        .expression_attribute_values(":expires", n(session.expires_at))
        .expression_attribute_values(":max", n(MAX_SESSIONS))
        .build()
        .map_err(backend("add session"))?;
    let res = store
        .client
        .transact_write_items()
        .transact_items(password_unchanged(store, mobile, verified, session)?)
        .transact_items(TransactWriteItem::builder().update(add).build())
        .send()
        .await;
    match cancelled(res, "add session")? {
        None => return Ok(true),
        Some(reasons) if reasons.failed(0) => return Ok(false),
        Some(_) => {}
    }
    // The index is full (or a racer wrote it): read it, keep the live sessions that expire last,
    // and write it whole on condition that it still holds what was read.
    for _ in 0..3 {
        let out = store
            .client
            .get_item()
            .table_name(&store.table)
            .set_key(Some(key(keys::user(session.user_id))))
            .projection_expression("#sessions")
            .expression_attribute_names("#sessions", ATTR)
            .consistent_read(true)
            .send()
            .await
            .map_err(backend("add session"))?;
        let Some(item) = out.item else { return Ok(false) };
        let read: Vec<(String, i64)> = item
            .get(ATTR)
            .and_then(|v| v.as_m().ok())
            .map(|m| m.iter().filter_map(|(k, v)| Some((k.clone(), v.as_n().ok()?.parse::<i64>().ok()?))).collect())
            .unwrap_or_default();
        let mut keep = sessions_kept_for_one_more(read.iter().map(|(k, exp)| (k.as_str(), *exp)), now);
        keep.push((session.token_hash.as_str(), session.expires_at));
        let mut write = Update::builder()
            .table_name(&store.table)
            .set_key(Some(key(keys::user(session.user_id))))
            .update_expression("SET #sessions = :sessions")
            .expression_attribute_names("#sessions", ATTR)
            .expression_attribute_values(":sessions", map(keep));
        // The same keys as read (entries are only ever added or removed, never changed).
        write = match item.get(ATTR) {
            None => write.condition_expression("attribute_exists(#pk) AND attribute_not_exists(#sessions)"),
            Some(_) => {
                let mut condition = "attribute_exists(#pk) AND size(#sessions) = :count".to_owned();
                for (i, (hash, _)) in read.iter().enumerate() {
                    condition.push_str(&format!(" AND attribute_exists(#sessions.#k{i})"));
                    write = write.expression_attribute_names(format!("#k{i}"), hash.as_str());
                }
                write.condition_expression(condition).expression_attribute_values(":count", n(read.len()))
            }
        }
        .expression_attribute_names("#pk", keys::PK);
        let res = store
            .client
            .transact_write_items()
            .transact_items(password_unchanged(store, mobile, verified, session)?)
            .transact_items(TransactWriteItem::builder().update(write.build().map_err(backend("add session"))?).build())
            .send()
            .await;
        match cancelled(res, "add session")? {
            None => return Ok(true),
            Some(reasons) if reasons.failed(0) => return Ok(false),
            Some(_) => continue,
        }
    }
    Err(StoreError::Backend { op: "add session", detail: "the session index kept changing".into() })
}
