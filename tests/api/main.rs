//! Route, flow, race, fault and log tests against moto's server, one test binary.

mod auth;
mod avatar;
mod bad_input;
mod flow;
mod image_code;
mod login;
mod logs;
mod name;
mod races;
mod register;
mod round_trips;
mod session;
mod sms_code;
mod store_contract;
