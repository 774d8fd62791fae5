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
pub mod deferred;
pub mod domain;
pub mod errno;
pub mod error;
pub mod forms;
pub mod http;
pub mod http_client;
pub mod lambda;
pub mod limits;
pub mod metrics;
pub mod password_check;
pub mod routes;
pub mod sms;
pub mod store;
pub mod tls;

pub use app::App;
pub use errno::Errno;
pub use error::ApiError;
pub use routes::Route;

/// A future boxed as a trait object, made in this crate: see `boxed`.
pub type Boxed<'a, T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send + 'a>>;

/// Boxes the future of an adapter's method (DynamoDB, SNS, S3, the cache) or of the Lambda
/// plumbing, in a method that is not inlined (`#[inline(never)]`): its code, down to the SDK's
/// own futures, is then compiled once, in this crate. Rust compiles an awaited `async fn`'s body
/// again in every crate that awaits it, which made each function's binary recompile them all
/// (README, "Build times"). One allocation a call, against a network round trip.
pub(crate) fn boxed<'a, T>(future: impl std::future::Future<Output = T> + Send + 'a) -> Boxed<'a, T> {
    Box::pin(future)
}
