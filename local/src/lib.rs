//! `ihome-local` as a library: the local adapters of the ports (embedded redb store, console
//! SMS outbox, avatar folder), every route's handler in one dispatch (`routes`), and the HTTP
//! server that serves them. The binary
//! (`main.rs`) parses options and starts it; the tests use the adapters in-process.

pub mod avatar_bucket;
pub mod avatar_dir;
pub mod backends;
pub mod backoff;
pub mod outbox;
pub mod purge;
pub mod routes;
pub mod server;
pub mod statics;
pub mod store;
pub mod timed_io;

pub use avatar_dir::AvatarDir;
pub use outbox::ConsoleSms;
pub use store::EmbeddedStore;
