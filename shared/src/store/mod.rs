//! The data operations the routes need. Each one states the invariant it keeps; the backend keeps
//! it with the database's own conditions and transactions, never by read-then-write.

mod dynamo;
pub mod keys;

pub use dynamo::{Destination, DynamoStore};

use std::future::Future;

use thiserror::Error;

use crate::domain::{
    ClientIp, IdCard, ImageCodeId, ImageCodeText, Mobile, PasswordHash, RealName, SessionToken, SmsCode, SmsPurpose,
    TokenHash, User, UserId, UserName,
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

/// A live session and its user (sessions live in their user's item: no user, no session).
#[derive(Debug, Clone)]
pub struct Authenticated {
    pub user: User,
    /// When this session ends.
    pub session_expires_at: i64,
}

/// How a password change ended. Nothing was written unless `Changed`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PasswordChange {
    /// The new hash is stored and every other session of the user has ended.
    Changed,
    /// The stored password is no longer the one verified (changed or reset meanwhile).
    Stale,
    /// The caller's session ended meanwhile (or the account went).
    SessionEnded,
}

/// How a password reset ended. Nothing was written unless `Reset`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PasswordReset {
    /// The new hash is stored, the code consumed and every session of the account ended.
    Reset,
    /// The code was used by another request (or replaced by a new one) meanwhile.
    CodeGone,
    /// The mobile has no account (any more).
    NoAccount,
}

/// How an account deletion ended. Nothing was deleted unless `Deleted`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccountDeletion {
    /// The user, its mobile and name guards, sessions and real-name data are gone.
    Deleted,
    /// The user changed since it was read (name, avatar, session): read it again and retry.
    Changed,
}

/// The data operations the routes need: the port every store adapter implements (DynamoDB here,
/// the embedded redb store in `ihome-local`). Futures are `Send` so handlers run on any executor.
pub trait Store: Send + Sync {
    /// Saves a captcha answer for `ttl` seconds, replacing one under the same id.
    fn put_image_code<'a>(
        &'a self,
        id: &'a ImageCodeId,
        text: &'a ImageCodeText,
        expires_at: i64,
    ) -> impl Future<Output = Result<(), StoreError>> + Send + 'a;

    /// Removes a captcha and returns its answer: of racing callers, exactly one gets it.
    /// Expired answers come back as `None`.
    fn take_image_code<'a>(
        &'a self,
        id: &'a ImageCodeId,
        now: i64,
    ) -> impl Future<Output = Result<Option<ImageCodeText>, StoreError>> + Send + 'a;

    fn mobile_registered<'a>(
        &'a self,
        mobile: &'a Mobile,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send + 'a;

    /// Stores a fresh SMS code unless one was sent less than `interval` seconds ago.
    /// Returns false when throttled; of racing callers, exactly one is not.
    fn reserve_sms<'a>(
        &'a self,
        mobile: &'a Mobile,
        purpose: SmsPurpose,
        code: &'a SmsCode,
        now: i64,
        ttl: i64,
        interval: i64,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send + 'a;

    /// Drops a stored code that could not be sent, so a retry is not throttled.
    fn release_sms<'a>(
        &'a self,
        mobile: &'a Mobile,
        purpose: SmsPurpose,
        code: &'a SmsCode,
    ) -> impl Future<Output = Result<(), StoreError>> + Send + 'a;

    /// Spends one of the code's tries and returns the stored code to compare with, or `None`
    /// when there is no live code (missing, expired, or its tries used up). At most
    /// `max_attempts` callers ever see a code, however many race.
    fn check_out_sms<'a>(
        &'a self,
        mobile: &'a Mobile,
        purpose: SmsPurpose,
        now: i64,
        max_attempts: u32,
    ) -> impl Future<Output = Result<Option<SmsCode>, StoreError>> + Send + 'a;

    /// Creates the account and its first session in one transaction that also consumes `code` (a
    /// registration code): one account per mobile, one use per code, nothing half-written.
    fn create_user<'a>(
        &'a self,
        user: &'a NewUser,
        code: &'a SmsCode,
        session: &'a NewSession,
    ) -> impl Future<Output = Result<(), CreateUserError>> + Send + 'a;

    /// The credentials of a mobile, if it has an account.
    fn credentials<'a>(
        &'a self,
        mobile: &'a Mobile,
    ) -> impl Future<Output = Result<Option<Credentials>, StoreError>> + Send + 'a;

    /// Takes one of the `max` login attempts a mobile has per `window` seconds from one client
    /// address, before the password is checked: false when none is left. Success clears the count
    /// (`clear_login_failures`), so what stays counted are failures; and however many requests
    /// race, no more than `max` guesses per window are ever checked. Counted per address, so one
    /// attacker's address cannot lock the mobile's owner out (the mobile's budget from all
    /// addresses is `limits::Budget::LoginPerMobile`).
    fn reserve_login_attempt<'a>(
        &'a self,
        mobile: &'a Mobile,
        from: Option<ClientIp>,
        now: i64,
        window: i64,
        max: u32,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send + 'a;

    fn clear_login_failures<'a>(
        &'a self,
        mobile: &'a Mobile,
        from: Option<ClientIp>,
    ) -> impl Future<Output = Result<(), StoreError>> + Send + 'a;

    /// Adds a session to its user's index, unless the mobile's password is no longer `verified`
    /// (false): a login that checked the old password cannot outlive a change that raced it.
    /// Past `MAX_SESSIONS` live sessions, the ones that expire first are evicted.
    fn add_session<'a>(
        &'a self,
        mobile: &'a Mobile,
        verified: &'a PasswordHash,
        session: &'a NewSession,
        now: i64,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send + 'a;

    /// The token's live session with its user, in one read; `None` when the session is missing,
    /// expired or ended, or the user is gone.
    fn authenticate<'a>(
        &'a self,
        token: &'a SessionToken,
        now: i64,
    ) -> impl Future<Output = Result<Option<Authenticated>, StoreError>> + Send + 'a;

    /// Points the user at a new avatar URL and returns the one it replaced (`""` for none), or
    /// `None` when the user is gone.
    fn set_avatar_url<'a>(
        &'a self,
        user_id: UserId,
        url: &'a str,
    ) -> impl Future<Output = Result<Option<String>, StoreError>> + Send + 'a;

    /// Renames `user` (as read) to `new`: names are unique through a guard item per name, claimed
    /// and released in the same transaction. Mobile-shaped names have no guard: only the owner of
    /// that mobile may use one.
    fn rename<'a>(
        &'a self,
        user: &'a User,
        new: &'a UserName,
    ) -> impl Future<Output = Result<(), RenameError>> + Send + 'a;

    /// Sets the real-name record once: false when the user already has one (or is gone).
    fn set_real_name<'a>(
        &'a self,
        user_id: UserId,
        real_name: &'a RealName,
        id_card: &'a IdCard,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send + 'a;

    /// Ends a live session; false when there was none to end.
    fn end_session<'a>(
        &'a self,
        token: &'a SessionToken,
        now: i64,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send + 'a;

    /// Ends every session of the token's user, this one included; false when the token's own
    /// session was not live (nothing is ended then).
    fn end_all_sessions<'a>(
        &'a self,
        token: &'a SessionToken,
        now: i64,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send + 'a;

    /// Replaces the password `old` (as verified) with `new` and ends every session of the user
    /// but the caller's, in one transaction.
    fn change_password<'a>(
        &'a self,
        auth: &'a Authenticated,
        token: &'a SessionToken,
        old: &'a PasswordHash,
        new: &'a PasswordHash,
        now: i64,
    ) -> impl Future<Output = Result<PasswordChange, StoreError>> + Send + 'a;

    /// Consumes the mobile's reset code `code`, sets the password of `user_id` (the mobile's
    /// account) to `new` and ends every session of the account, in one transaction: of racing
    /// resets with one code, exactly one wins.
    fn reset_password<'a>(
        &'a self,
        mobile: &'a Mobile,
        user_id: UserId,
        code: &'a SmsCode,
        new: &'a PasswordHash,
    ) -> impl Future<Output = Result<PasswordReset, StoreError>> + Send + 'a;

    /// Deletes the account as read (`auth`, through `token`'s live session): the user item with
    /// its sessions and real-name data, the mobile's credentials and the name's guard, in one
    /// transaction. The mobile may then register again. The avatar object is the caller's: it is
    /// deleted before this, so a failure leaves no object that no account points at.
    fn delete_user<'a>(
        &'a self,
        auth: &'a Authenticated,
        token: &'a SessionToken,
        now: i64,
    ) -> impl Future<Output = Result<AccountDeletion, StoreError>> + Send + 'a;
}
