//! The DynamoDB backend: one table, conditions and transactions for every invariant.

use std::collections::HashMap;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata};
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{AttributeValue, Delete, Put, ReturnValue, TransactWriteItem, Update};
use aws_smithy_runtime_api::box_error::BoxError;

use super::keys::{self, PK, TTL};
use super::{
    AccountDeletion, Authenticated, CreateUserError, Credentials, NewSession, NewUser, PasswordChange, PasswordReset,
    RenameError, Store, StoreError,
};
use crate::domain::{
    ClientIp, IdCard, ImageCodeId, ImageCodeText, Mobile, PasswordHash, RealName, SessionToken, SmsCode, SmsPurpose,
    User, UserId, UserName,
};
use crate::http_client::HttpClient;

mod limits;
mod sessions;

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
}

/// Where a function's DynamoDB requests go, known before its client is built: init starts opening
/// the connection with it, then builds the client while the look-up and the connect are in flight.
#[derive(Clone, Debug)]
pub struct Destination {
    region: Option<String>,
    endpoint_url: Option<String>,
    table: String,
}

impl Destination {
    /// Where `DynamoStore::from_sdk` sends: the SDK settings' region and endpoint override (or
    /// `AWS_ENDPOINT_URL_DYNAMODB`, which wins), and the configured table.
    pub fn of(sdk: &aws_types::SdkConfig, config: &crate::config::Config) -> Self {
        Destination {
            region: sdk.region().map(ToString::to_string),
            endpoint_url: crate::aws_env::service_endpoint("DYNAMODB")
                .or_else(|| sdk.endpoint_url().map(str::to_owned)),
            table: config.table.clone(),
        }
    }

    /// Opens the connection (DNS, TCP, TLS) through `http`, the SDK clients' HTTP client, without
    /// a request, so a cold container's first request pays one round trip and no handshake. A
    /// failure only costs that request its handshake, so it is logged, not returned.
    pub async fn preconnect(&self, http: &HttpClient) {
        let opened = match self.endpoint().await {
            Ok(endpoint) => http.preconnect(&endpoint).await,
            Err(e) => Err(e),
        };
        if let Err(e) = opened {
            tracing::warn!(error = %DisplayErrorContext(&*e), "opening the DynamoDB connection during init failed");
        }
    }

    /// The SDK's endpoint rules (the functions set no resolver of their own), given what the
    /// store's item operations give them: region, endpoint override, and the table as the resource.
    async fn endpoint(&self) -> Result<http::Uri, BoxError> {
        use aws_sdk_dynamodb::config::endpoint::{DefaultResolver, Params, ResolveEndpoint};
        let params = Params::builder()
            .set_region(self.region.clone())
            .set_endpoint(self.endpoint_url.clone())
            .set_resource_arn(Some(self.table.clone()))
            .build()?;
        let endpoint = DefaultResolver::new().resolve_endpoint(&params).await?;
        Ok(endpoint.url().parse()?)
    }
}

impl Store for DynamoStore {
    #[inline(never)]
    fn put_image_code<'a>(
        &'a self,
        id: &'a ImageCodeId,
        text: &'a ImageCodeText,
        expires_at: i64,
    ) -> impl Future<Output = Result<(), StoreError>> + Send + 'a {
        crate::boxed(async move {
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
        })
    }

    #[inline(never)]
    fn take_image_code<'a>(
        &'a self,
        id: &'a ImageCodeId,
        now: i64,
    ) -> impl Future<Output = Result<Option<ImageCodeText>, StoreError>> + Send + 'a {
        crate::boxed(async move {
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
        })
    }

    #[inline(never)]
    fn mobile_registered<'a>(
        &'a self,
        mobile: &'a Mobile,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send + 'a {
        crate::boxed(async move {
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
        })
    }

    #[inline(never)]
    fn reserve_sms<'a>(
        &'a self,
        mobile: &'a Mobile,
        purpose: SmsPurpose,
        code: &'a SmsCode,
        now: i64,
        ttl: i64,
        interval: i64,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send + 'a {
        crate::boxed(async move {
            let res = self
                .client
                .put_item()
                .table_name(&self.table)
                .item(PK, s(keys::sms_code(mobile, purpose)))
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
        })
    }

    #[inline(never)]
    fn release_sms<'a>(
        &'a self,
        mobile: &'a Mobile,
        purpose: SmsPurpose,
        code: &'a SmsCode,
    ) -> impl Future<Output = Result<(), StoreError>> + Send + 'a {
        crate::boxed(async move {
            let res = self
                .client
                .delete_item()
                .table_name(&self.table)
                .set_key(Some(key(keys::sms_code(mobile, purpose))))
                .condition_expression("code = :code")
                .expression_attribute_values(":code", s(code.as_str()))
                .send()
                .await;
            match res {
                Ok(_) => Ok(()),
                Err(e) if conditional_failed(&e) => Ok(()),
                Err(e) => Err(backend("release sms")(e)),
            }
        })
    }

    #[inline(never)]
    fn check_out_sms<'a>(
        &'a self,
        mobile: &'a Mobile,
        purpose: SmsPurpose,
        now: i64,
        max_attempts: u32,
    ) -> impl Future<Output = Result<Option<SmsCode>, StoreError>> + Send + 'a {
        crate::boxed(async move {
            // The try is spent before the comparison, so a burst of guesses gets at most max_attempts.
            let res = self
                .client
                .update_item()
                .table_name(&self.table)
                .set_key(Some(key(keys::sms_code(mobile, purpose))))
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
        })
    }

    #[inline(never)]
    fn create_user<'a>(
        &'a self,
        user: &'a NewUser,
        code: &'a SmsCode,
        session: &'a NewSession,
    ) -> impl Future<Output = Result<(), CreateUserError>> + Send + 'a {
        crate::boxed(async move {
            let consume_code = Delete::builder()
                .table_name(&self.table)
                .set_key(Some(key(keys::sms_code(&user.mobile, SmsPurpose::Register))))
                .condition_expression("code = :code")
                .expression_attribute_values(":code", s(code.as_str()))
                .build()
                .map_err(backend("create user"))?;
            let claim_mobile = Put::builder()
                .table_name(&self.table)
                .item(PK, s(keys::mobile(&user.mobile)))
                .item("user_id", n(user.id.get()))
                .item("password_hash", s(user.password_hash.as_str()))
                .condition_expression("attribute_not_exists(#pk)")
                .expression_attribute_names("#pk", PK)
                .build()
                .map_err(backend("create user"))?;
            let put_user = Put::builder()
                .table_name(&self.table)
                .item(PK, s(keys::user(user.id)))
                .item("user_id", n(user.id.get()))
                .item("mobile", s(user.mobile.as_str()))
                .item("name", s(user.mobile.as_str()))
                .item("avatar_url", s(""))
                .item("create_time", n(user.create_time))
                .item(sessions::ATTR, sessions::map([(session.token_hash.as_str(), session.expires_at)]))
                .condition_expression("attribute_not_exists(#pk)")
                .expression_attribute_names("#pk", PK)
                .build()
                .map_err(backend("create user"))?;
            let res = self
                .client
                .transact_write_items()
                .transact_items(TransactWriteItem::builder().delete(consume_code).build())
                .transact_items(TransactWriteItem::builder().put(claim_mobile).build())
                .transact_items(TransactWriteItem::builder().put(put_user).build())
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
        })
    }

    #[inline(never)]
    fn credentials<'a>(
        &'a self,
        mobile: &'a Mobile,
    ) -> impl Future<Output = Result<Option<Credentials>, StoreError>> + Send + 'a {
        crate::boxed(async move {
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
        })
    }

    #[inline(never)]
    fn reserve_login_attempt<'a>(
        &'a self,
        mobile: &'a Mobile,
        from: Option<ClientIp>,
        now: i64,
        window: i64,
        max: u32,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send + 'a {
        crate::boxed(async move {
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
        })
    }

    #[inline(never)]
    fn clear_login_failures<'a>(
        &'a self,
        mobile: &'a Mobile,
        from: Option<ClientIp>,
    ) -> impl Future<Output = Result<(), StoreError>> + Send + 'a {
        crate::boxed(async move {
            self.client
                .delete_item()
                .table_name(&self.table)
                .set_key(Some(key(keys::login_failures(mobile, from))))
                .send()
                .await
                .map_err(backend("clear login failures"))?;
            Ok(())
        })
    }

    #[inline(never)]
    fn add_session<'a>(
        &'a self,
        mobile: &'a Mobile,
        verified: &'a PasswordHash,
        session: &'a NewSession,
        now: i64,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send + 'a {
        crate::boxed(async move { sessions::add(self, mobile, verified, session, now).await })
    }

    #[inline(never)]
    fn authenticate<'a>(
        &'a self,
        token: &'a SessionToken,
        now: i64,
    ) -> impl Future<Output = Result<Option<Authenticated>, StoreError>> + Send + 'a {
        crate::boxed(async move {
            // The user and this one session of its index: the other sessions' hashes are not read.
            let out = self
                .client
                .get_item()
                .table_name(&self.table)
                .set_key(Some(key(keys::user(token.user_id()))))
                .projection_expression(
                    "user_id, mobile, #name, avatar_url, create_time, real_name, id_card, #sessions.#token",
                )
                .expression_attribute_names("#name", "name")
                .expression_attribute_names("#sessions", sessions::ATTR)
                .expression_attribute_names("#token", token.hash().as_str())
                .consistent_read(true)
                .send()
                .await
                .map_err(backend("authenticate"))?;
            let Some(item) = out.item else { return Ok(None) };
            let expires_at = sessions::expiry(&item, &token.hash());
            match expires_at {
                Some(t) if t > now => Ok(Some(Authenticated { user: user_from_item(&item)?, session_expires_at: t })),
                _ => Ok(None),
            }
        })
    }

    #[inline(never)]
    fn end_session<'a>(
        &'a self,
        token: &'a SessionToken,
        now: i64,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send + 'a {
        crate::boxed(async move {
            let res = self
                .client
                .update_item()
                .table_name(&self.table)
                .set_key(Some(key(keys::user(token.user_id()))))
                .update_expression("REMOVE #sessions.#token")
                .condition_expression("#sessions.#token > :now")
                .expression_attribute_names("#sessions", sessions::ATTR)
                .expression_attribute_names("#token", token.hash().as_str())
                .expression_attribute_values(":now", n(now))
                .send()
                .await;
            match res {
                Ok(_) => Ok(true),
                Err(e) if conditional_failed(&e) => Ok(false),
                Err(e) => Err(backend("end session")(e)),
            }
        })
    }

    #[inline(never)]
    fn end_all_sessions<'a>(
        &'a self,
        token: &'a SessionToken,
        now: i64,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send + 'a {
        crate::boxed(async move {
            let res = self
                .client
                .update_item()
                .table_name(&self.table)
                .set_key(Some(key(keys::user(token.user_id()))))
                .update_expression("SET #sessions = :none")
                .condition_expression("#sessions.#token > :now")
                .expression_attribute_names("#sessions", sessions::ATTR)
                .expression_attribute_names("#token", token.hash().as_str())
                .expression_attribute_values(":now", n(now))
                .expression_attribute_values(":none", sessions::map([]))
                .send()
                .await;
            match res {
                Ok(_) => Ok(true),
                Err(e) if conditional_failed(&e) => Ok(false),
                Err(e) => Err(backend("end all sessions")(e)),
            }
        })
    }

    #[inline(never)]
    fn change_password<'a>(
        &'a self,
        auth: &'a Authenticated,
        token: &'a SessionToken,
        old: &'a PasswordHash,
        new: &'a PasswordHash,
        now: i64,
    ) -> impl Future<Output = Result<PasswordChange, StoreError>> + Send + 'a {
        crate::boxed(async move {
            let uid = n(auth.user.id.get());
            let set_password = Update::builder()
                .table_name(&self.table)
                .set_key(Some(key(keys::mobile(&auth.user.mobile))))
                .update_expression("SET password_hash = :new")
                .condition_expression("password_hash = :old AND user_id = :uid")
                .expression_attribute_values(":new", s(new.as_str()))
                .expression_attribute_values(":old", s(old.as_str()))
                .expression_attribute_values(":uid", uid)
                .build()
                .map_err(backend("change password"))?;
            // The index becomes this session alone: every other one ends in the same write.
            let keep_this = Update::builder()
                .table_name(&self.table)
                .set_key(Some(key(keys::user(auth.user.id))))
                .update_expression("SET #sessions = :this")
                .condition_expression("#sessions.#token > :now")
                .expression_attribute_names("#sessions", sessions::ATTR)
                .expression_attribute_names("#token", token.hash().as_str())
                .expression_attribute_values(":now", n(now))
                .expression_attribute_values(":this", sessions::map([(token.hash().as_str(), auth.session_expires_at)]))
                .build()
                .map_err(backend("change password"))?;
            let res = self
                .client
                .transact_write_items()
                .transact_items(TransactWriteItem::builder().update(set_password).build())
                .transact_items(TransactWriteItem::builder().update(keep_this).build())
                .send()
                .await;
            match cancelled(res, "change password")? {
                None => Ok(PasswordChange::Changed),
                Some(reasons) if reasons.failed(0) => Ok(PasswordChange::Stale),
                Some(reasons) if reasons.failed(1) => Ok(PasswordChange::SessionEnded),
                // A concurrent transaction on the same items: the caller's next read decides.
                Some(_) => Ok(PasswordChange::Stale),
            }
        })
    }

    #[inline(never)]
    fn reset_password<'a>(
        &'a self,
        mobile: &'a Mobile,
        user_id: UserId,
        code: &'a SmsCode,
        new: &'a PasswordHash,
    ) -> impl Future<Output = Result<PasswordReset, StoreError>> + Send + 'a {
        crate::boxed(async move {
            let consume_code = Delete::builder()
                .table_name(&self.table)
                .set_key(Some(key(keys::sms_code(mobile, SmsPurpose::Reset))))
                .condition_expression("code = :code")
                .expression_attribute_values(":code", s(code.as_str()))
                .build()
                .map_err(backend("reset password"))?;
            let set_password = Update::builder()
                .table_name(&self.table)
                .set_key(Some(key(keys::mobile(mobile))))
                .update_expression("SET password_hash = :new")
                .condition_expression("user_id = :uid")
                .expression_attribute_values(":new", s(new.as_str()))
                .expression_attribute_values(":uid", n(user_id.get()))
                .build()
                .map_err(backend("reset password"))?;
            let end_sessions = Update::builder()
                .table_name(&self.table)
                .set_key(Some(key(keys::user(user_id))))
                .update_expression("SET #sessions = :none")
                .condition_expression("attribute_exists(#pk)")
                .expression_attribute_names("#pk", PK)
                .expression_attribute_names("#sessions", sessions::ATTR)
                .expression_attribute_values(":none", sessions::map([]))
                .build()
                .map_err(backend("reset password"))?;
            let res = self
                .client
                .transact_write_items()
                .transact_items(TransactWriteItem::builder().delete(consume_code).build())
                .transact_items(TransactWriteItem::builder().update(set_password).build())
                .transact_items(TransactWriteItem::builder().update(end_sessions).build())
                .send()
                .await;
            match cancelled(res, "reset password")? {
                None => Ok(PasswordReset::Reset),
                Some(reasons) if reasons.failed(0) => Ok(PasswordReset::CodeGone),
                Some(reasons) if reasons.failed(1) || reasons.failed(2) => Ok(PasswordReset::NoAccount),
                // Another transaction held one of the items: the code is still there, or the racer
                // that held it has consumed it; either way this request did not reset.
                Some(_) => Ok(PasswordReset::CodeGone),
            }
        })
    }

    #[inline(never)]
    fn delete_user<'a>(
        &'a self,
        auth: &'a Authenticated,
        token: &'a SessionToken,
        now: i64,
    ) -> impl Future<Output = Result<AccountDeletion, StoreError>> + Send + 'a {
        crate::boxed(async move {
            let user = &auth.user;
            let uid = n(user.id.get());
            // As read: a rename or an avatar that raced this would otherwise leave a guard or an
            // object behind with no account.
            let delete_user = Delete::builder()
                .table_name(&self.table)
                .set_key(Some(key(keys::user(user.id))))
                .condition_expression("#sessions.#token > :now AND #name = :name AND avatar_url = :avatar")
                .expression_attribute_names("#sessions", sessions::ATTR)
                .expression_attribute_names("#token", token.hash().as_str())
                .expression_attribute_names("#name", "name")
                .expression_attribute_values(":now", n(now))
                .expression_attribute_values(":name", s(user.name.as_str()))
                .expression_attribute_values(":avatar", s(user.avatar_url.as_str()))
                .build()
                .map_err(backend("delete user"))?;
            let delete_mobile = Delete::builder()
                .table_name(&self.table)
                .set_key(Some(key(keys::mobile(&user.mobile))))
                .condition_expression("user_id = :uid")
                .expression_attribute_values(":uid", uid.clone())
                .build()
                .map_err(backend("delete user"))?;
            let mut items = vec![
                TransactWriteItem::builder().delete(delete_user).build(),
                TransactWriteItem::builder().delete(delete_mobile).build(),
            ];
            if let Some(name) = UserName::parse(&user.name).filter(|name| !name.is_mobile_shaped()) {
                let release = Delete::builder()
                    .table_name(&self.table)
                    .set_key(Some(key(keys::name(&name))))
                    .condition_expression("attribute_not_exists(#pk) OR user_id = :uid")
                    .expression_attribute_names("#pk", PK)
                    .expression_attribute_values(":uid", uid)
                    .build()
                    .map_err(backend("delete user"))?;
                items.push(TransactWriteItem::builder().delete(release).build());
            }
            let res = self.client.transact_write_items().set_transact_items(Some(items)).send().await;
            match cancelled(res, "delete user")? {
                None => Ok(AccountDeletion::Deleted),
                Some(_) => Ok(AccountDeletion::Changed),
            }
        })
    }

    #[inline(never)]
    fn set_avatar_url<'a>(
        &'a self,
        user_id: UserId,
        url: &'a str,
    ) -> impl Future<Output = Result<Option<String>, StoreError>> + Send + 'a {
        crate::boxed(async move {
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
                Ok(out) => Ok(Some(
                    out.attributes.as_ref().and_then(|a| get_s(a, "avatar_url")).unwrap_or_default().to_owned(),
                )),
                Err(e) if conditional_failed(&e) => Ok(None),
                Err(e) => Err(backend("set avatar url")(e)),
            }
        })
    }

    #[inline(never)]
    fn rename<'a>(
        &'a self,
        user: &'a User,
        new: &'a UserName,
    ) -> impl Future<Output = Result<(), RenameError>> + Send + 'a {
        crate::boxed(async move {
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
                    .map_err(backend("rename"))?;
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
                .map_err(backend("rename"))?;
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
                    .map_err(backend("rename"))?;
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
        })
    }

    #[inline(never)]
    fn set_real_name<'a>(
        &'a self,
        user_id: UserId,
        real_name: &'a RealName,
        id_card: &'a IdCard,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send + 'a {
        crate::boxed(async move {
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
        })
    }
}

/// Which items of a cancelled transaction failed their condition.
struct Cancelled(Vec<Option<String>>);

impl Cancelled {
    fn failed(&self, i: usize) -> bool {
        self.0.get(i).and_then(Option::as_deref) == Some("ConditionalCheckFailed")
    }
}

/// A transaction's outcome: `None` when it committed, its cancellation reasons when a condition
/// failed or it conflicted with another transaction, an error otherwise.
fn cancelled<T, R: std::fmt::Debug + 'static>(
    res: Result<T, aws_sdk_dynamodb::error::SdkError<TransactWriteItemsError, R>>,
    op: &'static str,
) -> Result<Option<Cancelled>, StoreError> {
    let err = match res {
        Ok(_) => return Ok(None),
        Err(e) => e,
    };
    if let Some(TransactWriteItemsError::TransactionCanceledException(c)) = err.as_service_error() {
        return Ok(Some(Cancelled(c.cancellation_reasons().iter().map(|r| r.code().map(str::to_owned)).collect())));
    }
    Err(backend(op)(err))
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

#[cfg(test)]
mod tests {
    use super::*;

    fn sdk(region: &str, endpoint_url: Option<&str>) -> aws_types::SdkConfig {
        let mut sdk = aws_types::SdkConfig::builder()
            .region(aws_sdk_dynamodb::config::Region::new(region.to_owned()))
            .behavior_version(aws_sdk_dynamodb::config::BehaviorVersion::latest());
        if let Some(url) = endpoint_url {
            sdk = sdk.endpoint_url(url);
        }
        sdk.build()
    }

    #[tokio::test]
    async fn preconnects_where_the_requests_go() {
        let config = crate::config::Config::default();
        let regional = Destination::of(&sdk("ap-southeast-1", None), &config).endpoint().await.expect("an endpoint");
        assert_eq!(regional.to_string(), "https://dynamodb.ap-southeast-1.amazonaws.com/");
        let emulator = sdk("us-east-1", Some("http://127.0.0.1:5000"));
        let endpoint = Destination::of(&emulator, &config).endpoint().await.expect("an endpoint");
        assert_eq!(endpoint.to_string(), "http://127.0.0.1:5000/");
    }
}
