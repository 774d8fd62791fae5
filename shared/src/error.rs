//! The one error type of the routes, and its mapping to an errno envelope.
//!
//! Routes decide *which* business answer applies (the messages of API.md); infrastructure failures
//! carry their source here, where it is logged once and never shown to the client.

use std::borrow::Cow;
use std::fmt;

use crate::errno::Errno;

/// A failure answered with an errno envelope (HTTP 200, per API.md).
#[derive(Debug)]
pub struct ApiError {
    errno: Errno,
    message: Cow<'static, str>,
}

impl ApiError {
    pub fn new(errno: Errno, message: impl Into<Cow<'static, str>>) -> Self {
        ApiError { errno, message: message.into() }
    }

    pub fn param(message: &'static str) -> Self {
        Self::new(Errno::ParamErr, message)
    }

    pub fn incomplete() -> Self {
        Self::param("参数不完整")
    }

    pub fn no_data(message: &'static str) -> Self {
        Self::new(Errno::NoData, message)
    }

    pub fn data_err(message: &'static str) -> Self {
        Self::new(Errno::DataErr, message)
    }

    pub fn data_exist(message: &'static str) -> Self {
        Self::new(Errno::DataExist, message)
    }

    pub fn req(message: &'static str) -> Self {
        Self::new(Errno::ReqErr, message)
    }

    pub fn session() -> Self {
        Self::new(Errno::SessionErr, Errno::SessionErr.default_message())
    }

    /// An infrastructure failure: logs `source` (never sent) and answers `errno` with `message`.
    pub fn infra(errno: Errno, message: &'static str, source: &dyn fmt::Display) -> Self {
        tracing::error!(errno = errno.code(), error = %source, "{message}");
        Self::new(errno, message)
    }

    /// A store failure answered as DBERR with the route's message.
    pub fn db(message: &'static str) -> impl FnOnce(crate::store::StoreError) -> Self {
        move |e| Self::infra(Errno::DbErr, message, &e)
    }

    pub fn errno(&self) -> Errno {
        self.errno
    }

    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.errno.code(), self.message)
    }
}

impl std::error::Error for ApiError {}
