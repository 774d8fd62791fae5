//! The iHome user API as a library: domain types, the ports (traits `Store`, `SmsSender`,
//! `AvatarStore`) with their AWS adapters, one module per route, and the Lambda start-up each
//! function's `main` calls. Local-only adapters live in `ihome-local`, not here.

pub mod app;
pub mod avatars;
pub mod aws_env;
pub mod cache;
pub mod captcha;
pub mod clock;
pub mod config;
pub mod domain;
pub mod errno;
pub mod error;
pub mod forms;
pub mod http;
pub mod lambda;
pub mod limits;
pub mod metrics;
pub mod password_check;
pub mod routes;
pub mod sms;
pub mod store;

pub use app::App;
pub use errno::Errno;
pub use error::ApiError;
pub use routes::Route;
