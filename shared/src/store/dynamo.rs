//! The DynamoDB backend: one table, conditions and transactions for every invariant.

use std::collections::HashMap;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata};
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{AttributeValue, Delete, KeysAndAttributes, Put, ReturnValue, TransactWriteItem, Update};

use super::keys::{self, PK, TTL};
use super::{Authenticated, CreateUserError, Credentials, NewSession, NewUser, RenameError, Store, StoreError};
use crate::domain::{
    ClientIp, IdCard, ImageCodeId, ImageCodeText, Mobile, PasswordHash, RealName, SessionToken, SmsCode, User, UserId,
    UserName,
};

mod limits;

type Item = HashMap<String, AttributeValue>;

#[derive(Debug, Clone)]
pub struct DynamoStore {
    client: Client,
    table: String,
}

fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

fn n(v: impl ToString) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

fn key(pk: String) -> Item {
    HashMap::from([(PK.to_owned(), s(pk))])
}

fn backend<E: std::error::Error>(op: &'static str) -> impl FnOnce(E) -> StoreError {
    move |e| StoreError::Backend { op, detail: DisplayErrorContext(&e).to_string() }
}

fn get_s<'a>(item: &'a Item, name: &str) -> Option<&'a str> {
    item.get(name).and_then(|v| v.as_s().ok()).map(String::as_str)
}

fn get_n<T: std::str::FromStr>(item: &Item, name: &str) -> Option<T> {
    item.get(name).and_then(|v| v.as_n().ok()).and_then(|v| v.parse().ok())
}

/// An expiring item is live until `expires_at`; DynamoDB's TTL deletes lazily, so reads check.
fn live(item: &Item, now: i64) -> bool {
    get_n::<i64>(item, TTL).is_some_and(|t| t > now)
}

fn conditional_failed<E: ProvideErrorMetadata, R>(e: &aws_sdk_dynamodb::error::SdkError<E, R>) -> bool {
    e.as_service_error().and_then(|e| e.code()) == Some("ConditionalCheckFailedException")
}

impl DynamoStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        DynamoStore { client, table: table.into() }
    }

    /// The store for a function: its DynamoDB client from the function's SDK settings.
    pub fn from_sdk(sdk: &aws_types::SdkConfig, config: &crate::config::Config) -> Self {
        let mut conf = aws_sdk_dynamodb::config::Builder::from(sdk);
        if let Some(url) = crate::aws_env::service_endpoint("DYNAMODB") {
            conf = conf.endpoint_url(url);
        }
        Self::new(Client::from_conf(conf.build()), config.table.clone())
    }

    /// Opens the connection to DynamoDB (DNS, TCP, TLS) with the cheapest call there is, so a cold
    /// container's first request pays one round trip, not a handshake too. `DescribeEndpoints`
    /// reads no table and no data; a failure here only costs the first request its handshake.
    pub async fn warm_up(&self) {
        if let Err(e) = self.client.describe_endpoints().send().await {
            tracing::warn!(error = %DisplayErrorContext(&e), "DynamoDB warm-up call failed");
        }
    }
}

impl Store for DynamoStore {
    async fn put_image_code(&self, id: &ImageCodeId, text: &ImageCodeText, expires_at: i64) -> Result<(), StoreError> {
        self.client
            .put_item()
            .table_name(&self.table)
            .item(PK, s(keys::image_code(id)))
            .item("code", s(text.as_str()))
            .item(TTL, n(expires_at))
            .send()
            .await
            .map_err(backend("put image code"))?;
        Ok(())
    }

    async fn take_image_code(&self, id: &ImageCodeId, now: i64) -> Result<Option<ImageCodeText>, StoreError> {
        let res = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key(keys::image_code(id))))
            .condition_expression("attribute_exists(#pk)")
            .expression_attribute_names("#pk", PK)
            .return_values(ReturnValue::AllOld)
            .send()
            .await;
        let old = match res {
            Ok(out) => out.attributes,
            Err(e) if conditional_failed(&e) => None,
            Err(e) => return Err(backend("take image code")(e)),
        };
        Ok(old
            .filter(|item| live(item, now))
            .and_then(|item| get_s(&item, "code").map(|c| ImageCodeText::from_stored(c.to_owned()))))
    }

    async fn mobile_registered(&self, mobile: &Mobile) -> Result<bool, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key(keys::mobile(mobile))))
            .projection_expression("#pk")
            .expression_attribute_names("#pk", PK)
            .consistent_read(true)
            .send()
            .await
            .map_err(backend("read mobile"))?;
        Ok(out.item.is_some())
    }

    async fn reserve_sms(
        &self,
        mobile: &Mobile,
        code: &SmsCode,
        now: i64,
        ttl: i64,
        interval: i64,
    ) -> Result<bool, StoreError> {
        let res = self
            .client
            .put_item()
            .table_name(&self.table)
            .item(PK, s(keys::sms_code(mobile)))
            .item("code", s(code.as_str()))
            .item("attempts", n(0))
            .item("sent_at", n(now))
            .item(TTL, n(now + ttl.max(interval)))
            .condition_expression("attribute_not_exists(#pk) OR sent_at <= :cutoff")
            .expression_attribute_names("#pk", PK)
            .expression_attribute_values(":cutoff", n(now - interval))
            .send()
            .await;
        match res {
            Ok(_) => Ok(true),
            Err(e) if conditional_failed(&e) => Ok(false),
            Err(e) => Err(backend("reserve sms")(e)),
        }
    }

    async fn release_sms(&self, mobile: &Mobile, code: &SmsCode) -> Result<(), StoreError> {
        let res = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key(keys::sms_code(mobile))))
            .condition_expression("code = :code")
            .expression_attribute_values(":code", s(code.as_str()))
            .send()
            .await;
        match res {
            Ok(_) => Ok(()),
            Err(e) if conditional_failed(&e) => Ok(()),
            Err(e) => Err(backend("release sms")(e)),
        }
    }

    async fn check_out_sms(&self, mobile: &Mobile, now: i64, max_attempts: u32) -> Result<Option<SmsCode>, StoreError> {
        // The try is spent before the comparison, so a burst of guesses gets at most max_attempts.
        let res = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(keys::sms_code(mobile))))
            .update_expression("ADD attempts :one")
            .condition_expression("attribute_exists(#pk) AND #ttl > :now AND attempts < :max")
            .expression_attribute_names("#pk", PK)
            .expression_attribute_names("#ttl", TTL)
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":now", n(now))
            .expression_attribute_values(":max", n(max_attempts))
            .return_values(ReturnValue::AllNew)
            .send()
            .await;
        match res {
            Ok(out) => {
                let item = out.attributes.unwrap_or_default();
                let code = get_s(&item, "code")
                    .and_then(SmsCode::parse)
                    .ok_or(StoreError::Corrupt { op: "check out sms", what: "code" })?;
                Ok(Some(code))
            }
            Err(e) if conditional_failed(&e) => Ok(None),
            Err(e) => Err(backend("check out sms")(e)),
        }
    }

    async fn create_user(&self, user: &NewUser, code: &SmsCode, session: &NewSession) -> Result<(), CreateUserError> {
        let build = |e| StoreError::Backend { op: "create user", detail: DisplayErrorContext(&e).to_string() };
        let consume_code = Delete::builder()
            .table_name(&self.table)
            .set_key(Some(key(keys::sms_code(&user.mobile))))
            .condition_expression("code = :code")
            .expression_attribute_values(":code", s(code.as_str()))
            .build()
            .map_err(build)?;
        let claim_mobile = Put::builder()
            .table_name(&self.table)
            .item(PK, s(keys::mobile(&user.mobile)))
            .item("user_id", n(user.id.get()))
            .item("password_hash", s(user.password_hash.as_str()))
            .condition_expression("attribute_not_exists(#pk)")
            .expression_attribute_names("#pk", PK)
            .build()
            .map_err(build)?;
        let put_user = Put::builder()
            .table_name(&self.table)
            .item(PK, s(keys::user(user.id)))
            .item("user_id", n(user.id.get()))
            .item("mobile", s(user.mobile.as_str()))
            .item("name", s(user.mobile.as_str()))
            .item("avatar_url", s(""))
            .item("create_time", n(user.create_time))
            .condition_expression("attribute_not_exists(#pk)")
            .expression_attribute_names("#pk", PK)
            .build()
            .map_err(build)?;
        let put_session = self.session_put(session).map_err(build)?;
        let res = self
            .client
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().delete(consume_code).build())
            .transact_items(TransactWriteItem::builder().put(claim_mobile).build())
            .transact_items(TransactWriteItem::builder().put(put_user).build())
            .transact_items(TransactWriteItem::builder().put(put_session).build())
            .send()
            .await;
        let err = match res {
            Ok(_) => return Ok(()),
            Err(e) => e,
        };
        if let Some(TransactWriteItemsError::TransactionCanceledException(c)) = err.as_service_error() {
            let failed = |i: usize| {
                c.cancellation_reasons()
                    .get(i)
                    .and_then(|r| r.code())
                    .is_some_and(|code| code == "ConditionalCheckFailed")
            };
            // The mobile first: a taken mobile is the answer even if the code went too.
            if failed(1) {
                return Err(CreateUserError::MobileTaken);
            }
            if failed(0) {
                return Err(CreateUserError::CodeGone);
            }
            let conflict = c.cancellation_reasons().iter().any(|r| r.code() == Some("TransactionConflict"));
            if failed(2) || conflict {
                return Err(CreateUserError::Retry);
            }
        }
        Err(CreateUserError::Store(backend("create user")(err)))
    }

    async fn credentials(&self, mobile: &Mobile) -> Result<Option<Credentials>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key(keys::mobile(mobile))))
            .consistent_read(true)
            .send()
            .await
            .map_err(backend("read credentials"))?;
        let Some(item) = out.item else { return Ok(None) };
        let corrupt = |what| StoreError::Corrupt { op: "read credentials", what };
        Ok(Some(Credentials {
            user_id: get_n(&item, "user_id").and_then(UserId::new).ok_or(corrupt("user_id"))?,
            password_hash: PasswordHash::from_stored(
                get_s(&item, "password_hash").ok_or(corrupt("password_hash"))?.to_owned(),
            ),
        }))
    }

    async fn reserve_login_attempt(
        &self,
        mobile: &Mobile,
        from: Option<ClientIp>,
        now: i64,
        window: i64,
        max: u32,
    ) -> Result<bool, StoreError> {
        let pk = keys::login_failures(mobile, from);
        // Open a new window when there is none (the common case: a success deletes the count)
        // or it has passed; else count inside it while under the limit. Each step is one
        // conditional write; a second round covers a racer changing the window between the two.
        for _ in 0..2 {
            let opened = self
                .client
                .put_item()
                .table_name(&self.table)
                .item(PK, s(pk.clone()))
                .item("failures", n(1))
                .item("window_start", n(now))
                .item(TTL, n(now + window))
                .condition_expression("attribute_not_exists(#pk) OR window_start <= :cutoff")
                .expression_attribute_names("#pk", PK)
                .expression_attribute_values(":cutoff", n(now - window))
                .send()
                .await;
            match opened {
                Ok(_) => return Ok(true),
                Err(e) if conditional_failed(&e) => {}
                Err(e) => return Err(backend("reserve login attempt")(e)),
            }
            let counted = self
                .client
                .update_item()
                .table_name(&self.table)
                .set_key(Some(key(pk.clone())))
                .update_expression("ADD failures :one")
                .condition_expression("attribute_exists(#pk) AND window_start > :cutoff AND failures < :max")
                .expression_attribute_names("#pk", PK)
                .expression_attribute_values(":one", n(1))
                .expression_attribute_values(":cutoff", n(now - window))
                .expression_attribute_values(":max", n(max))
                .send()
                .await;
            match counted {
                Ok(_) => return Ok(true),
                Err(e) if conditional_failed(&e) => {}
                Err(e) => return Err(backend("reserve login attempt")(e)),
            }
        }
        Ok(false)
    }

    async fn clear_login_failures(&self, mobile: &Mobile, from: Option<ClientIp>) -> Result<(), StoreError> {
        self.client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key(keys::login_failures(mobile, from))))
            .send()
            .await
            .map_err(backend("clear login failures"))?;
        Ok(())
    }

    async fn put_session(&self, session: &NewSession) -> Result<(), StoreError> {
        let put = self.session_put(session).map_err(backend("put session"))?;
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(put.item))
            .send()
            .await
            .map_err(backend("put session"))?;
        Ok(())
    }

    async fn authenticate(&self, token: &SessionToken, now: i64) -> Result<Option<Authenticated>, StoreError> {
        let session_key = keys::session(&token.hash());
        let user_key = keys::user(token.user_id());
        let items = self.batch_get(&[&session_key, &user_key], "authenticate").await?;
        let valid = items
            .get(&session_key)
            .is_some_and(|item| live(item, now) && get_n::<u64>(item, "user_id") == Some(token.user_id().get()));
        if !valid {
            return Ok(None);
        }
        let user = items.get(&user_key).map(user_from_item).transpose()?;
        Ok(Some(Authenticated { user_id: token.user_id(), user }))
    }

    async fn end_session(&self, token: &SessionToken, now: i64) -> Result<bool, StoreError> {
        let res = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key(keys::session(&token.hash()))))
            .condition_expression("user_id = :uid AND #ttl > :now")
            .expression_attribute_names("#ttl", TTL)
            .expression_attribute_values(":uid", n(token.user_id().get()))
            .expression_attribute_values(":now", n(now))
            .send()
            .await;
        match res {
            Ok(_) => Ok(true),
            Err(e) if conditional_failed(&e) => Ok(false),
            Err(e) => Err(backend("end session")(e)),
        }
    }

    async fn set_avatar_url(&self, user_id: UserId, url: &str) -> Result<Option<String>, StoreError> {
        let res = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(keys::user(user_id))))
            .update_expression("SET avatar_url = :url")
            .condition_expression("attribute_exists(#pk)")
            .expression_attribute_names("#pk", PK)
            .expression_attribute_values(":url", s(url))
            .return_values(ReturnValue::UpdatedOld)
            .send()
            .await;
        match res {
            Ok(out) => {
                Ok(Some(out.attributes.as_ref().and_then(|a| get_s(a, "avatar_url")).unwrap_or_default().to_owned()))
            }
            Err(e) if conditional_failed(&e) => Ok(None),
            Err(e) => Err(backend("set avatar url")(e)),
        }
    }

    async fn rename(&self, user: &User, new: &UserName) -> Result<(), RenameError> {
        let build = |e| StoreError::Backend { op: "rename", detail: DisplayErrorContext(&e).to_string() };
        let uid = n(user.id.get());
        let mut items = Vec::new();
        let claims_guard = !new.is_mobile_shaped();
        if claims_guard {
            // Absent, or already ours (a half-finished earlier rename cannot block the owner).
            let claim = Put::builder()
                .table_name(&self.table)
                .item(PK, s(keys::name(new)))
                .item("user_id", uid.clone())
                .condition_expression("attribute_not_exists(#pk) OR user_id = :uid")
                .expression_attribute_names("#pk", PK)
                .expression_attribute_values(":uid", uid.clone())
                .build()
                .map_err(build)?;
            items.push(TransactWriteItem::builder().put(claim).build());
        }
        let update = Update::builder()
            .table_name(&self.table)
            .set_key(Some(key(keys::user(user.id))))
            .update_expression("SET #name = :new")
            .condition_expression("attribute_exists(#pk) AND #name = :old")
            .expression_attribute_names("#pk", PK)
            .expression_attribute_names("#name", "name")
            .expression_attribute_values(":new", s(new.as_str()))
            .expression_attribute_values(":old", s(user.name.as_str()))
            .build()
            .map_err(build)?;
        let update_index = items.len();
        items.push(TransactWriteItem::builder().update(update).build());
        if let Some(old) = UserName::parse(&user.name).filter(|o| !o.is_mobile_shaped() && o != new) {
            let release = Delete::builder()
                .table_name(&self.table)
                .set_key(Some(key(keys::name(&old))))
                .condition_expression("attribute_not_exists(#pk) OR user_id = :uid")
                .expression_attribute_names("#pk", PK)
                .expression_attribute_values(":uid", uid.clone())
                .build()
                .map_err(build)?;
            items.push(TransactWriteItem::builder().delete(release).build());
        }
        let res = self.client.transact_write_items().set_transact_items(Some(items)).send().await;
        let err = match res {
            Ok(_) => return Ok(()),
            Err(e) => e,
        };
        if let Some(TransactWriteItemsError::TransactionCanceledException(c)) = err.as_service_error() {
            let code = |i: usize| c.cancellation_reasons().get(i).and_then(|r| r.code()).unwrap_or("None");
            if claims_guard && code(0) == "ConditionalCheckFailed" {
                return Err(RenameError::Taken);
            }
            let reasons: Vec<&str> = (0..c.cancellation_reasons().len()).map(code).collect();
            if code(update_index) == "ConditionalCheckFailed" || reasons.contains(&"TransactionConflict") {
                return Err(RenameError::Conflict);
            }
        }
        Err(RenameError::Store(backend("rename")(err)))
    }

    async fn set_real_name(&self, user_id: UserId, real_name: &RealName, id_card: &IdCard) -> Result<bool, StoreError> {
        let res = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(keys::user(user_id))))
            .update_expression("SET real_name = :name, id_card = :id")
            .condition_expression("attribute_exists(#pk) AND attribute_not_exists(real_name)")
            .expression_attribute_names("#pk", PK)
            .expression_attribute_values(":name", s(real_name.as_str()))
            .expression_attribute_values(":id", s(id_card.as_str()))
            .send()
            .await;
        match res {
            Ok(_) => Ok(true),
            Err(e) if conditional_failed(&e) => Ok(false),
            Err(e) => Err(backend("set real name")(e)),
        }
    }
}

impl DynamoStore {
    fn session_put(&self, session: &NewSession) -> Result<Put, aws_sdk_dynamodb::error::BuildError> {
        Put::builder()
            .table_name(&self.table)
            .item(PK, s(keys::session(&session.token_hash)))
            .item("user_id", n(session.user_id.get()))
            .item(TTL, n(session.expires_at))
            .build()
    }

    /// Consistent reads of a few items in one request, keyed by `pk`.
    async fn batch_get(&self, pks: &[&String], op: &'static str) -> Result<HashMap<String, Item>, StoreError> {
        let mut pending: Vec<Item> = pks.iter().map(|pk| key((*pk).clone())).collect();
        let mut found = HashMap::new();
        // Unprocessed keys only come back under throttling; retry them a few times.
        for _ in 0..4 {
            if pending.is_empty() {
                break;
            }
            let request = KeysAndAttributes::builder()
                .set_keys(Some(std::mem::take(&mut pending)))
                .consistent_read(true)
                .build()
                .map_err(backend(op))?;
            let out =
                self.client.batch_get_item().request_items(&self.table, request).send().await.map_err(backend(op))?;
            for item in out.responses.and_then(|mut r| r.remove(&self.table)).unwrap_or_default() {
                if let Some(pk) = get_s(&item, PK) {
                    found.insert(pk.to_owned(), item);
                }
            }
            pending = out.unprocessed_keys.and_then(|mut u| u.remove(&self.table)).map(|k| k.keys).unwrap_or_default();
        }
        if pending.is_empty() {
            Ok(found)
        } else {
            Err(StoreError::Backend { op, detail: "keys left unprocessed after retries".into() })
        }
    }
}

fn user_from_item(item: &Item) -> Result<User, StoreError> {
    let corrupt = |what| StoreError::Corrupt { op: "read user", what };
    Ok(User {
        id: get_n(item, "user_id").and_then(UserId::new).ok_or(corrupt("user_id"))?,
        mobile: get_s(item, "mobile").and_then(Mobile::parse).ok_or(corrupt("mobile"))?,
        name: get_s(item, "name").ok_or(corrupt("name"))?.to_owned(),
        avatar_url: get_s(item, "avatar_url").unwrap_or_default().to_owned(),
        create_time: get_n(item, "create_time").ok_or(corrupt("create_time"))?,
        real_name: get_s(item, "real_name").map(|v| RealName::from_stored(v.to_owned())),
        id_card: get_s(item, "id_card").map(|v| IdCard::from_stored(v.to_owned())),
    })
}
