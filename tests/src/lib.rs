//! Test harness, by concern: the emulator (`emulator`), a fresh app per test (`app`) with its
//! clock (`clock`), a
//! browser-like client sending API Gateway events (`client`, `response`), request bodies
//! (`multipart`), SMS read back from moto (`sms`), DynamoDB call counting (`counting`), log
//! capture (`logs`) and a Lambda runtime API for the release binaries (`runtime_api`).
//!
//! moto is started by the test command (`scripts/test.sh`), which sets the SDK's standard
//! settings (`AWS_ENDPOINT_URL`, region, test credentials); nothing here invents its own.

pub mod app;
pub mod cache_proxy;
pub mod client;
pub mod clock;
pub mod counting;
pub mod emulator;
pub mod logs;
pub mod multipart;
pub mod response;
pub mod runtime_api;
pub mod sms;
pub mod tcp_proxy;
pub mod tls;

pub use app::{AVATAR_BASE, Builder, T0, TestApp, TestedApp, peek_image_code};
pub use client::{Client, Request};
pub use counting::CallCounter;
pub use emulator::{create_table, moto_endpoint, sdk_config, unique, unique_mobile, unreachable_sdk_config};
pub use multipart::{Part, multipart, sample_image};
pub use response::Response;
pub use sms::{all_sent_sms, last_sms_code, sent_sms};
