//! The embedded store for local runs: one redb file, one table of the same keys as DynamoDB.
//!
//! redb runs one write transaction at a time, so every operation below is atomic and
//! serialisable: the invariants hold under any concurrency. Writes commit durably (fsync) before
//! returning, so an acknowledged account, session or code survives a crash or restart; the
//! exceptions are a new captcha, which a crash may lose at the cost of one refresh (and no fsync),
//! and the purge of expired items, which the next pass redoes.

mod limits;

use std::collections::BTreeMap;
use std::ops::Bound;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use ihome::store::{
    AccountDeletion, Authenticated, CreateUserError, Credentials, NewSession, NewUser, PasswordChange, PasswordReset,
    RenameError, Store, StoreError, keys,
};
use redb::{Database, Durability, ReadableDatabase, ReadableTable, TableDefinition};
use serde::{Deserialize, Serialize, de::DeserializeOwned};

use ihome::domain::{
    ClientIp, IdCard, ImageCodeId, ImageCodeText, MAX_SESSIONS, Mobile, PasswordHash, RealName, SessionToken, SmsCode,
    SmsPurpose, User, UserId, UserName, sessions_kept_for_one_more,
};

const ITEMS: TableDefinition<&str, &[u8]> = TableDefinition::new("items");

/// The kinds of item that expire; each carries `expires_at` (DynamoDB's TTL attribute). Deleting
/// an expired one changes no answer: reads treat it as absent already (an SMS code's item outlives
/// its resend interval, a login-failure count's item its window).
const EXPIRING: [&str; 5] = [
    keys::IMAGE_CODE_PREFIX,
    keys::SMS_CODE_PREFIX,
    keys::SMS_RESET_PREFIX,
    keys::LOGIN_FAILURES_PREFIX,
    keys::LIMIT_PREFIX,
];

/// When an item is gone: from its `expires_at` on. Every read below and the purge judge by this.
fn expired(expires_at: i64, now: i64) -> bool {
    expires_at <= now
}

/// Any expiring item, read for its expiry alone.
#[derive(Deserialize)]
struct Expiry {
    expires_at: i64,
}

#[derive(Clone)]
pub struct EmbeddedStore {
    db: Arc<Database>,
    /// Where captcha answers are echoed (console and this JSON-lines file), so scripts and tests
    /// can drive the API without reading images.
    captcha_echo: Option<PathBuf>,
}

impl std::fmt::Debug for EmbeddedStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("EmbeddedStore")
    }
}

#[derive(Serialize, Deserialize)]
struct ImageCodeItem {
    code: String,
    expires_at: i64,
}

#[derive(Serialize, Deserialize)]
struct SmsItem {
    code: String,
    attempts: u32,
    sent_at: i64,
    expires_at: i64,
}

#[derive(Serialize, Deserialize)]
struct MobileItem {
    user_id: u64,
    password_hash: String,
}

#[derive(Serialize, Deserialize)]
struct UserItem {
    user_id: u64,
    mobile: String,
    name: String,
    avatar_url: String,
    create_time: i64,
    real_name: Option<String>,
    id_card: Option<String>,
    /// The session index, as in DynamoDB: token hash → expiry.
    #[serde(default)]
    sessions: BTreeMap<String, i64>,
}

impl UserItem {
    fn session_live(&self, token: &SessionToken, now: i64) -> Option<i64> {
        self.sessions.get(token.hash().as_str()).copied().filter(|t| !expired(*t, now))
    }
}

#[derive(Serialize, Deserialize)]
struct LoginFailItem {
    failures: u32,
    window_start: i64,
    expires_at: i64,
}

#[derive(Serialize, Deserialize)]
struct NameItem {
    user_id: u64,
}

fn backend(op: &'static str) -> impl FnOnce(redb::Error) -> StoreError {
    move |e| StoreError::Backend { op, detail: e.to_string() }
}

/// One write transaction's view of the table; commits only if something was written.
struct Tx<'a> {
    table: redb::Table<'a, &'static str, &'static [u8]>,
    dirty: bool,
    op: &'static str,
}

impl Tx<'_> {
    fn get<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>, StoreError> {
        let raw = self.table.get(key).map_err(|e| backend(self.op)(e.into()))?;
        raw.map(|v| serde_json::from_slice(v.value()).map_err(|_| StoreError::Corrupt { op: self.op, what: "item" }))
            .transpose()
    }

    fn put<T: Serialize>(&mut self, key: &str, item: &T) -> Result<(), StoreError> {
        let bytes = serde_json::to_vec(item).map_err(|_| StoreError::Corrupt { op: self.op, what: "encode" })?;
        self.table.insert(key, bytes.as_slice()).map_err(|e| backend(self.op)(e.into()))?;
        self.dirty = true;
        Ok(())
    }

    fn remove(&mut self, key: &str) -> Result<(), StoreError> {
        self.table.remove(key).map_err(|e| backend(self.op)(e.into()))?;
        self.dirty = true;
        Ok(())
    }
}

impl EmbeddedStore {
    /// Opens (or creates) the database file.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let db = Database::create(path).map_err(|e| backend("open")(e.into()))?;
        let txn = db.begin_write().map_err(|e| backend("open")(e.into()))?;
        txn.open_table(ITEMS).map_err(|e| backend("open")(e.into()))?;
        txn.commit().map_err(|e| backend("open")(e.into()))?;
        Ok(EmbeddedStore { db: Arc::new(db), captcha_echo: None })
    }

    /// Echoes every captcha answer stored to the console and appends it to `file`.
    pub fn with_captcha_echo(mut self, file: impl Into<PathBuf>) -> Self {
        self.captcha_echo = Some(file.into());
        self
    }

    /// Runs `f` in one durable write transaction on the blocking pool.
    async fn write<T, F>(&self, op: &'static str, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Tx<'_>) -> Result<T, StoreError> + Send + 'static,
    {
        self.write_with(op, Durability::Immediate, f).await
    }

    /// Runs `f` in one write transaction of the given durability on the blocking pool.
    async fn write_with<T, F>(&self, op: &'static str, durability: Durability, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Tx<'_>) -> Result<T, StoreError> + Send + 'static,
    {
        let db = self.db.clone();
        tokio::task::spawn_blocking(move || {
            let mut txn = db.begin_write().map_err(|e| backend(op)(e.into()))?;
            txn.set_durability(durability).map_err(|e| StoreError::Backend { op, detail: e.to_string() })?;
            let (out, dirty) = {
                let table = txn.open_table(ITEMS).map_err(|e| backend(op)(e.into()))?;
                let mut tx = Tx { table, dirty: false, op };
                let out = f(&mut tx)?;
                (out, tx.dirty)
            };
            if dirty {
                txn.commit().map_err(|e| backend(op)(e.into()))?;
            } else {
                txn.abort().map_err(|e| backend(op)(e.into()))?;
            }
            Ok(out)
        })
        .await
        .map_err(|e| StoreError::Backend { op, detail: e.to_string() })?
    }

    /// Reads several items' raw bytes in one read transaction (a consistent snapshot).
    async fn read_raw(&self, op: &'static str, keys: Vec<String>) -> Result<Vec<Option<Vec<u8>>>, StoreError> {
        let db = self.db.clone();
        tokio::task::spawn_blocking(move || {
            let txn = db.begin_read().map_err(|e| backend(op)(e.into()))?;
            let table = txn.open_table(ITEMS).map_err(|e| backend(op)(e.into()))?;
            keys.iter()
                .map(|k| Ok(table.get(k.as_str()).map_err(|e| backend(op)(e.into()))?.map(|v| v.value().to_vec())))
                .collect()
        })
        .await
        .map_err(|e| StoreError::Backend { op, detail: e.to_string() })?
    }

    /// How many items of one kind (a key prefix of `ihome::store::keys`) the file holds.
    pub async fn count(&self, prefix: &str) -> Result<usize, StoreError> {
        let (db, prefix) = (self.db.clone(), prefix.to_owned());
        tokio::task::spawn_blocking(move || {
            let op = "count items";
            let txn = db.begin_read().map_err(|e| backend(op)(e.into()))?;
            let table = txn.open_table(ITEMS).map_err(|e| backend(op)(e.into()))?;
            let mut n = 0;
            for entry in table.range::<&str>(prefix.as_str()..).map_err(|e| backend(op)(e.into()))? {
                let (key, _) = entry.map_err(|e| backend(op)(e.into()))?;
                if !key.value().starts_with(prefix.as_str()) {
                    break;
                }
                n += 1;
            }
            Ok(n)
        })
        .await
        .map_err(|e| StoreError::Backend { op: "count items", detail: e.to_string() })?
    }

    /// Deletes the items that expired by `now`, as reads judge expiry; answers how many.
    ///
    /// Each batch is read in a read transaction (which never blocks writers) and deleted in a
    /// write transaction of its own, so requests wait at most for one batch's deletes.
    pub async fn purge_expired(&self, now: i64, batch: usize) -> Result<usize, StoreError> {
        let batch = batch.max(1);
        let mut removed = 0;
        for prefix in EXPIRING {
            let mut after = None;
            loop {
                let (expired_keys, next) = self.expired_batch(prefix, after, now, batch).await?;
                if !expired_keys.is_empty() {
                    // A purge lost in a crash is redone by the next pass: no fsync for it.
                    removed += self
                        .write_with("purge expired", Durability::None, move |tx| {
                            let mut n = 0;
                            for key in &expired_keys {
                                // Re-read: the key may hold a new, live item since the scan.
                                if tx.get::<Expiry>(key)?.is_some_and(|i| expired(i.expires_at, now)) {
                                    tx.remove(key)?;
                                    n += 1;
                                }
                            }
                            Ok(n)
                        })
                        .await?;
                }
                let Some(next) = next else { break };
                after = Some(next);
                tokio::task::yield_now().await;
            }
        }
        Ok(removed)
    }

    /// Looks at up to `batch` items of one kind, in key order from just after `after`: answers the
    /// keys of the expired ones, and the key to go on from (`None` when the kind is done).
    async fn expired_batch(
        &self,
        prefix: &'static str,
        after: Option<String>,
        now: i64,
        batch: usize,
    ) -> Result<(Vec<String>, Option<String>), StoreError> {
        let op = "purge expired";
        let db = self.db.clone();
        tokio::task::spawn_blocking(move || {
            let txn = db.begin_read().map_err(|e| backend(op)(e.into()))?;
            let table = txn.open_table(ITEMS).map_err(|e| backend(op)(e.into()))?;
            let start = after.as_deref().map_or(Bound::Included(prefix), Bound::Excluded);
            let mut expired_keys = Vec::new();
            let mut seen = 0;
            for entry in table.range::<&str>((start, Bound::Unbounded)).map_err(|e| backend(op)(e.into()))? {
                let (key, value) = entry.map_err(|e| backend(op)(e.into()))?;
                let key = key.value();
                if !key.starts_with(prefix) {
                    break;
                }
                // A malformed item stays: reads report it, and it is not this task's to judge.
                if serde_json::from_slice::<Expiry>(value.value()).is_ok_and(|i| expired(i.expires_at, now)) {
                    expired_keys.push(key.to_owned());
                }
                seen += 1;
                if seen == batch {
                    return Ok((expired_keys, Some(key.to_owned())));
                }
            }
            Ok((expired_keys, None))
        })
        .await
        .map_err(|e| StoreError::Backend { op, detail: e.to_string() })?
    }

    async fn read_one<T: DeserializeOwned>(&self, op: &'static str, key: String) -> Result<Option<T>, StoreError> {
        let raw = self.read_raw(op, vec![key]).await?.pop().flatten();
        decode(op, raw)
    }
}

impl Store for EmbeddedStore {
    async fn put_image_code(&self, id: &ImageCodeId, text: &ImageCodeText, expires_at: i64) -> Result<(), StoreError> {
        let (key, item) = (keys::image_code(id), ImageCodeItem { code: text.as_str().to_owned(), expires_at });
        // A captcha lost in a crash costs one refresh: no fsync for it (the next durable commit
        // persists it anyway). Everything else commits durably.
        self.write_with("put image code", Durability::None, move |tx| tx.put(&key, &item)).await?;
        if let Some(file) = &self.captcha_echo {
            crate::outbox::echo_captcha(file, id, text).await;
        }
        Ok(())
    }

    async fn take_image_code(&self, id: &ImageCodeId, now: i64) -> Result<Option<ImageCodeText>, StoreError> {
        let key = keys::image_code(id);
        self.write("take image code", move |tx| {
            let item: Option<ImageCodeItem> = tx.get(&key)?;
            if item.is_some() {
                tx.remove(&key)?;
            }
            Ok(item.filter(|i| !expired(i.expires_at, now)).map(|i| ImageCodeText::from_stored(i.code)))
        })
        .await
    }

    async fn mobile_registered(&self, mobile: &Mobile) -> Result<bool, StoreError> {
        Ok(self.read_one::<MobileItem>("read mobile", keys::mobile(mobile)).await?.is_some())
    }

    async fn reserve_sms(
        &self,
        mobile: &Mobile,
        purpose: SmsPurpose,
        code: &SmsCode,
        now: i64,
        ttl: i64,
        interval: i64,
    ) -> Result<bool, StoreError> {
        let key = keys::sms_code(mobile, purpose);
        let item =
            SmsItem { code: code.as_str().to_owned(), attempts: 0, sent_at: now, expires_at: now + ttl.max(interval) };
        self.write("reserve sms", move |tx| {
            let current: Option<SmsItem> = tx.get(&key)?;
            if current.is_some_and(|c| c.sent_at > now - interval) {
                return Ok(false);
            }
            tx.put(&key, &item)?;
            Ok(true)
        })
        .await
    }

    async fn release_sms(&self, mobile: &Mobile, purpose: SmsPurpose, code: &SmsCode) -> Result<(), StoreError> {
        let (key, code) = (keys::sms_code(mobile, purpose), code.as_str().to_owned());
        self.write("release sms", move |tx| {
            if tx.get::<SmsItem>(&key)?.is_some_and(|c| c.code == code) {
                tx.remove(&key)?;
            }
            Ok(())
        })
        .await
    }

    async fn check_out_sms(
        &self,
        mobile: &Mobile,
        purpose: SmsPurpose,
        now: i64,
        max_attempts: u32,
    ) -> Result<Option<SmsCode>, StoreError> {
        let key = keys::sms_code(mobile, purpose);
        self.write("check out sms", move |tx| {
            let Some(mut item) = tx.get::<SmsItem>(&key)? else { return Ok(None) };
            if expired(item.expires_at, now) || item.attempts >= max_attempts {
                return Ok(None);
            }
            item.attempts += 1;
            tx.put(&key, &item)?;
            SmsCode::parse(&item.code).map(Some).ok_or(StoreError::Corrupt { op: "check out sms", what: "code" })
        })
        .await
    }

    async fn create_user(&self, user: &NewUser, code: &SmsCode, session: &NewSession) -> Result<(), CreateUserError> {
        let sms_key = keys::sms_code(&user.mobile, SmsPurpose::Register);
        let mobile_key = keys::mobile(&user.mobile);
        let user_key = keys::user(user.id);
        let code = code.as_str().to_owned();
        let mobile_item = MobileItem { user_id: user.id.get(), password_hash: user.password_hash.as_str().to_owned() };
        let user_item = UserItem {
            user_id: user.id.get(),
            mobile: user.mobile.as_str().to_owned(),
            name: user.mobile.as_str().to_owned(),
            avatar_url: String::new(),
            create_time: user.create_time,
            real_name: None,
            id_card: None,
            sessions: BTreeMap::from([(session.token_hash.as_str().to_owned(), session.expires_at)]),
        };
        self.write("create user", move |tx| {
            // Same order of precedence as the DynamoDB transaction's reasons.
            if tx.get::<MobileItem>(&mobile_key)?.is_some() {
                return Ok(Err(CreateUserError::MobileTaken));
            }
            if tx.get::<SmsItem>(&sms_key)?.is_none_or(|s| s.code != code) {
                return Ok(Err(CreateUserError::CodeGone));
            }
            if tx.get::<UserItem>(&user_key)?.is_some() {
                return Ok(Err(CreateUserError::Retry));
            }
            tx.remove(&sms_key)?;
            tx.put(&mobile_key, &mobile_item)?;
            tx.put(&user_key, &user_item)?;
            Ok(Ok(()))
        })
        .await?
    }

    async fn credentials(&self, mobile: &Mobile) -> Result<Option<Credentials>, StoreError> {
        let Some(m) = self.read_one::<MobileItem>("read credentials", keys::mobile(mobile)).await? else {
            return Ok(None);
        };
        Ok(Some(Credentials {
            user_id: UserId::new(m.user_id).ok_or(StoreError::Corrupt { op: "read credentials", what: "user_id" })?,
            password_hash: PasswordHash::from_stored(m.password_hash),
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
        let key = keys::login_failures(mobile, from);
        self.write("reserve login attempt", move |tx| {
            let item = match tx.get::<LoginFailItem>(&key)? {
                Some(f) if f.window_start > now - window => {
                    if f.failures >= max {
                        return Ok(false);
                    }
                    LoginFailItem { failures: f.failures + 1, ..f }
                }
                _ => LoginFailItem { failures: 1, window_start: now, expires_at: now + window },
            };
            tx.put(&key, &item)?;
            Ok(true)
        })
        .await
    }

    async fn clear_login_failures(&self, mobile: &Mobile, from: Option<ClientIp>) -> Result<(), StoreError> {
        let key = keys::login_failures(mobile, from);
        self.write("clear login failures", move |tx| tx.remove(&key)).await
    }

    async fn add_session(
        &self,
        mobile: &Mobile,
        verified: &PasswordHash,
        session: &NewSession,
        now: i64,
    ) -> Result<bool, StoreError> {
        let (mobile_key, user_key) = (keys::mobile(mobile), keys::user(session.user_id));
        let (uid, verified) = (session.user_id.get(), verified.as_str().to_owned());
        let (hash, expires_at) = (session.token_hash.as_str().to_owned(), session.expires_at);
        self.write("add session", move |tx| {
            let unchanged =
                tx.get::<MobileItem>(&mobile_key)?.is_some_and(|m| m.user_id == uid && m.password_hash == verified);
            let Some(mut user) = tx.get::<UserItem>(&user_key)?.filter(|_| unchanged) else { return Ok(false) };
            // Past the bound, the sessions that expire first go (expired ones before all).
            if user.sessions.len() >= MAX_SESSIONS {
                user.sessions =
                    sessions_kept_for_one_more(std::mem::take(&mut user.sessions), now).into_iter().collect();
            }
            user.sessions.insert(hash, expires_at);
            tx.put(&user_key, &user)?;
            Ok(true)
        })
        .await
    }

    async fn authenticate(&self, token: &SessionToken, now: i64) -> Result<Option<Authenticated>, StoreError> {
        let Some(user) = self.read_one::<UserItem>("authenticate", keys::user(token.user_id())).await? else {
            return Ok(None);
        };
        let Some(session_expires_at) = user.session_live(token, now) else { return Ok(None) };
        Ok(Some(Authenticated { user: user_from_item(user)?, session_expires_at }))
    }

    async fn end_session(&self, token: &SessionToken, now: i64) -> Result<bool, StoreError> {
        self.update_sessions("end session", token, now, move |sessions, hash| {
            sessions.remove(hash);
        })
        .await
    }

    async fn end_all_sessions(&self, token: &SessionToken, now: i64) -> Result<bool, StoreError> {
        self.update_sessions("end all sessions", token, now, |sessions, _| sessions.clear()).await
    }

    async fn change_password(
        &self,
        auth: &Authenticated,
        token: &SessionToken,
        old: &PasswordHash,
        new: &PasswordHash,
        now: i64,
    ) -> Result<PasswordChange, StoreError> {
        let (mobile_key, user_key) = (keys::mobile(&auth.user.mobile), keys::user(auth.user.id));
        let uid = auth.user.id.get();
        let (old, new) = (old.as_str().to_owned(), new.as_str().to_owned());
        let token = token.clone();
        self.write("change password", move |tx| {
            let Some(mut credentials) =
                tx.get::<MobileItem>(&mobile_key)?.filter(|m| m.user_id == uid && m.password_hash == old)
            else {
                return Ok(PasswordChange::Stale);
            };
            let Some(mut user) = tx.get::<UserItem>(&user_key)? else { return Ok(PasswordChange::SessionEnded) };
            let Some(expires_at) = user.session_live(&token, now) else { return Ok(PasswordChange::SessionEnded) };
            credentials.password_hash = new;
            user.sessions = BTreeMap::from([(token.hash().as_str().to_owned(), expires_at)]);
            tx.put(&mobile_key, &credentials)?;
            tx.put(&user_key, &user)?;
            Ok(PasswordChange::Changed)
        })
        .await
    }

    async fn reset_password(
        &self,
        mobile: &Mobile,
        user_id: UserId,
        code: &SmsCode,
        new: &PasswordHash,
    ) -> Result<PasswordReset, StoreError> {
        let sms_key = keys::sms_code(mobile, SmsPurpose::Reset);
        let (mobile_key, user_key) = (keys::mobile(mobile), keys::user(user_id));
        let (uid, code, new) = (user_id.get(), code.as_str().to_owned(), new.as_str().to_owned());
        self.write("reset password", move |tx| {
            if tx.get::<SmsItem>(&sms_key)?.is_none_or(|s| s.code != code) {
                return Ok(PasswordReset::CodeGone);
            }
            let Some(mut credentials) = tx.get::<MobileItem>(&mobile_key)?.filter(|m| m.user_id == uid) else {
                return Ok(PasswordReset::NoAccount);
            };
            let Some(mut user) = tx.get::<UserItem>(&user_key)? else { return Ok(PasswordReset::NoAccount) };
            credentials.password_hash = new;
            user.sessions.clear();
            tx.remove(&sms_key)?;
            tx.put(&mobile_key, &credentials)?;
            tx.put(&user_key, &user)?;
            Ok(PasswordReset::Reset)
        })
        .await
    }

    async fn delete_user(
        &self,
        auth: &Authenticated,
        token: &SessionToken,
        now: i64,
    ) -> Result<AccountDeletion, StoreError> {
        let read = auth.user.clone();
        let token = token.clone();
        self.write("delete user", move |tx| {
            let (user_key, mobile_key) = (keys::user(read.id), keys::mobile(&read.mobile));
            let uid = read.id.get();
            let unchanged = tx.get::<UserItem>(&user_key)?.is_some_and(|u| {
                u.session_live(&token, now).is_some() && u.name == read.name && u.avatar_url == read.avatar_url
            });
            if !unchanged || tx.get::<MobileItem>(&mobile_key)?.is_none_or(|m| m.user_id != uid) {
                return Ok(AccountDeletion::Changed);
            }
            tx.remove(&user_key)?;
            tx.remove(&mobile_key)?;
            if let Some(name) = UserName::parse(&read.name).filter(|n| !n.is_mobile_shaped()) {
                let guard = keys::name(&name);
                if tx.get::<NameItem>(&guard)?.is_some_and(|n| n.user_id == uid) {
                    tx.remove(&guard)?;
                }
            }
            Ok(AccountDeletion::Deleted)
        })
        .await
    }

    async fn set_avatar_url(&self, user_id: UserId, url: &str) -> Result<Option<String>, StoreError> {
        let (key, url) = (keys::user(user_id), url.to_owned());
        self.write("set avatar url", move |tx| {
            let Some(mut user) = tx.get::<UserItem>(&key)? else { return Ok(None) };
            let old = std::mem::replace(&mut user.avatar_url, url);
            tx.put(&key, &user)?;
            Ok(Some(old))
        })
        .await
    }

    async fn rename(&self, user: &User, new: &UserName) -> Result<(), RenameError> {
        let user_key = keys::user(user.id);
        let uid = user.id.get();
        let old_name = user.name.clone();
        let new = new.clone();
        self.write("rename", move |tx| {
            let new_guard = (!new.is_mobile_shaped()).then(|| keys::name(&new));
            if let Some(g) = &new_guard
                && tx.get::<NameItem>(g)?.is_some_and(|n| n.user_id != uid)
            {
                return Ok(Err(RenameError::Taken));
            }
            let Some(mut item) = tx.get::<UserItem>(&user_key)?.filter(|u| u.name == old_name) else {
                return Ok(Err(RenameError::Conflict));
            };
            if let Some(g) = &new_guard {
                tx.put(g, &NameItem { user_id: uid })?;
            }
            if let Some(old) = UserName::parse(&old_name).filter(|o| !o.is_mobile_shaped() && *o != new) {
                let old_guard = keys::name(&old);
                if tx.get::<NameItem>(&old_guard)?.is_none_or(|n| n.user_id == uid) {
                    tx.remove(&old_guard)?;
                }
            }
            item.name = new.as_str().to_owned();
            tx.put(&user_key, &item)?;
            Ok(Ok(()))
        })
        .await?
    }

    async fn set_real_name(&self, user_id: UserId, real_name: &RealName, id_card: &IdCard) -> Result<bool, StoreError> {
        let key = keys::user(user_id);
        let (name, id) = (real_name.as_str().to_owned(), id_card.as_str().to_owned());
        self.write("set real name", move |tx| {
            let Some(mut user) = tx.get::<UserItem>(&key)?.filter(|u| u.real_name.is_none()) else {
                return Ok(false);
            };
            user.real_name = Some(name);
            user.id_card = Some(id);
            tx.put(&key, &user)?;
            Ok(true)
        })
        .await
    }
}

impl EmbeddedStore {
    /// Changes the token's user's session index if the token's own session is live.
    async fn update_sessions(
        &self,
        op: &'static str,
        token: &SessionToken,
        now: i64,
        change: impl FnOnce(&mut BTreeMap<String, i64>, &str) + Send + 'static,
    ) -> Result<bool, StoreError> {
        let key = keys::user(token.user_id());
        let token = token.clone();
        self.write(op, move |tx| {
            let Some(mut user) = tx.get::<UserItem>(&key)?.filter(|u| u.session_live(&token, now).is_some()) else {
                return Ok(false);
            };
            change(&mut user.sessions, token.hash().as_str());
            tx.put(&key, &user)?;
            Ok(true)
        })
        .await
    }
}

fn decode<T: DeserializeOwned>(op: &'static str, raw: Option<Vec<u8>>) -> Result<Option<T>, StoreError> {
    raw.map(|r| serde_json::from_slice(&r).map_err(|_| StoreError::Corrupt { op, what: "item" })).transpose()
}

fn user_from_item(item: UserItem) -> Result<User, StoreError> {
    let corrupt = |what| StoreError::Corrupt { op: "read user", what };
    Ok(User {
        id: UserId::new(item.user_id).ok_or(corrupt("user_id"))?,
        mobile: Mobile::parse(&item.mobile).ok_or(corrupt("mobile"))?,
        name: item.name,
        avatar_url: item.avatar_url,
        create_time: item.create_time,
        real_name: item.real_name.map(RealName::from_stored),
        id_card: item.id_card.map(IdCard::from_stored),
    })
}
