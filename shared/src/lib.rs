//! The iHome user API as a library: every Lambda function is `lambda::run(Route::X)`.

pub mod app;
pub mod avatars;
pub mod captcha;
pub mod clock;
pub mod config;
pub mod domain;
pub mod errno;
pub mod error;
pub mod http;
pub mod lambda;
pub mod routes;
pub mod sms;
pub mod store;

pub use app::App;
pub use errno::Errno;
pub use error::ApiError;
pub use routes::Route;
