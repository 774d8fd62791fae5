//! The data operations the routes need. Each one states the invariant it keeps; the backend keeps
//! it with the database's own conditions and transactions, never by read-then-write.

mod dynamo;
pub mod keys;

pub use dynamo::DynamoStore;

use std::future::Future;

use thiserror::Error;

use crate::domain::{
    ClientIp, IdCard, ImageCodeId, ImageCodeText, Mobile, PasswordHash, RealName, SessionToken, SmsCode, TokenHash,
    User, UserId, UserName,
};

/// The backend failed or answered something we cannot read. The detail goes to logs only.
#[derive(Debug, Error)]
pub enum StoreError {
    #[error("{op} failed: {detail}")]
    Backend { op: &'static str, detail: String },
    #[error("{op}: stored item is malformed ({what})")]
    Corrupt { op: &'static str, what: &'static str },
}

#[derive(Debug, Clone)]
pub struct Credentials {
    pub user_id: UserId,
    pub password_hash: PasswordHash,
}

#[derive(Debug, Clone)]
pub struct NewUser {
    pub id: UserId,
    pub mobile: Mobile,
    pub password_hash: PasswordHash,
    pub create_time: i64,
}

#[derive(Debug, Clone)]
pub struct NewSession {
    pub token_hash: TokenHash,
    pub user_id: UserId,
    pub expires_at: i64,
}

impl NewSession {
    pub fn for_token(token: &SessionToken, expires_at: i64) -> Self {
        NewSession { token_hash: token.hash(), user_id: token.user_id(), expires_at }
    }
}

/// Why an account was not created.
#[derive(Debug, Error)]
pub enum CreateUserError {
    /// The SMS code was consumed by another request in the meantime.
    #[error("sms code already used")]
    CodeGone,
    #[error("mobile already registered")]
    MobileTaken,
    /// Nothing was written and trying again may succeed: the random user id was taken, or a
    /// concurrent transaction touched the same items.
    #[error("transaction cancelled, retry")]
    Retry,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Why a rename did not happen.
#[derive(Debug, Error)]
pub enum RenameError {
    #[error("name taken by another user")]
    Taken,
    /// The user's name changed (or the user went) since it was read: read again and retry.
    #[error("user changed concurrently")]
    Conflict,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A valid session and, when it still exists, its user.
#[derive(Debug, Clone)]
pub struct Authenticated {
    pub user_id: UserId,
    pub user: Option<User>,
}

/// The data operations the routes need: the port every store adapter implements (DynamoDB here,
/// the embedded redb store in `ihome-local`). Futures are `Send` so handlers run on any executor.
pub trait Store: Send + Sync {
    /// Saves a captcha answer for `ttl` seconds, replacing one under the same id.
    fn put_image_code(
        &self,
        id: &ImageCodeId,
        text: &ImageCodeText,
        expires_at: i64,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Removes a captcha and returns its answer: of racing callers, exactly one gets it.
    /// Expired answers come back as `None`.
    fn take_image_code(
        &self,
        id: &ImageCodeId,
        now: i64,
    ) -> impl Future<Output = Result<Option<ImageCodeText>, StoreError>> + Send;

    fn mobile_registered(&self, mobile: &Mobile) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Stores a fresh SMS code unless one was sent less than `interval` seconds ago.
    /// Returns false when throttled; of racing callers, exactly one is not.
    fn reserve_sms(
        &self,
        mobile: &Mobile,
        code: &SmsCode,
        now: i64,
        ttl: i64,
        interval: i64,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Drops a stored code that could not be sent, so a retry is not throttled.
    fn release_sms(&self, mobile: &Mobile, code: &SmsCode) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Spends one of the code's tries and returns the stored code to compare with, or `None`
    /// when there is no live code (missing, expired, or its tries used up). At most
    /// `max_attempts` callers ever see a code, however many race.
    fn check_out_sms(
        &self,
        mobile: &Mobile,
        now: i64,
        max_attempts: u32,
    ) -> impl Future<Output = Result<Option<SmsCode>, StoreError>> + Send;

    /// Creates the account and its first session in one transaction that also consumes `code`:
    /// one account per mobile, one use per code, nothing half-written.
    fn create_user(
        &self,
        user: &NewUser,
        code: &SmsCode,
        session: &NewSession,
    ) -> impl Future<Output = Result<(), CreateUserError>> + Send;

    /// The credentials of a mobile, if it has an account.
    fn credentials(&self, mobile: &Mobile) -> impl Future<Output = Result<Option<Credentials>, StoreError>> + Send;

    /// Takes one of the `max` login attempts a mobile has per `window` seconds from one client
    /// address, before the password is checked: false when none is left. Success clears the count
    /// (`clear_login_failures`), so what stays counted are failures; and however many requests
    /// race, no more than `max` guesses per window are ever checked. Counted per address, so one
    /// attacker's address cannot lock the mobile's owner out (the mobile's budget from all
    /// addresses is `limits::Budget::LoginPerMobile`).
    fn reserve_login_attempt(
        &self,
        mobile: &Mobile,
        from: Option<ClientIp>,
        now: i64,
        window: i64,
        max: u32,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    fn clear_login_failures(
        &self,
        mobile: &Mobile,
        from: Option<ClientIp>,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    fn put_session(&self, session: &NewSession) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// The token's live session with its user, read together; `None` when the session is
    /// missing, expired, ended, or not the token's user's.
    fn authenticate(
        &self,
        token: &SessionToken,
        now: i64,
    ) -> impl Future<Output = Result<Option<Authenticated>, StoreError>> + Send;

    /// Points the user at a new avatar URL and returns the one it replaced (`""` for none), or
    /// `None` when the user is gone.
    fn set_avatar_url(
        &self,
        user_id: UserId,
        url: &str,
    ) -> impl Future<Output = Result<Option<String>, StoreError>> + Send;

    /// Renames `user` (as read) to `new`: names are unique through a guard item per name, claimed
    /// and released in the same transaction. Mobile-shaped names have no guard: only the owner of
    /// that mobile may use one.
    fn rename(&self, user: &User, new: &UserName) -> impl Future<Output = Result<(), RenameError>> + Send;

    /// Sets the real-name record once: false when the user already has one (or is gone).
    fn set_real_name(
        &self,
        user_id: UserId,
        real_name: &RealName,
        id_card: &IdCard,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Ends a live session; false when there was none to end.
    fn end_session(&self, token: &SessionToken, now: i64) -> impl Future<Output = Result<bool, StoreError>> + Send;
}
