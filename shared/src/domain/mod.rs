//! Validated types: once parsed, a value cannot be bad. Debug output of personal data is masked.

mod codes;
mod mobile;
mod password;
mod session;
mod user;

pub use codes::{ImageCodeId, ImageCodeText, SmsCode};
pub use mobile::Mobile;
pub use password::{Password, PasswordError, PasswordHash};
pub use session::{SessionToken, TokenHash};
pub use user::{User, UserId};
