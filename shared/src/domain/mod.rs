//! Validated types: once parsed, a value cannot be bad. Debug output of personal data is masked.

mod avatar;
mod client_ip;
mod codes;
mod mobile;
mod password;
mod profile;
mod session;
mod user;

pub use avatar::{AvatarError, AvatarImage, ImageHeader};
pub use client_ip::ClientIp;
pub use codes::{ImageCodeId, ImageCodeText, SmsCode, SmsPurpose};
pub use mobile::Mobile;
pub use password::{Password, PasswordError, PasswordHash};
pub use profile::{IdCard, NameError, RealName, UserName};
pub use session::{MAX_SESSIONS, SessionToken, TokenHash, sessions_kept_for_one_more};
pub use user::{User, UserId};
