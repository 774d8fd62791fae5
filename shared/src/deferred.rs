//! An SDK client built on its first call rather than during init.
//!
//! Building any SDK client makes its crate parse its own copy of the endpoint partitions (a JSON
//! document and a regular expression for each partition; `aws-sdk-*`'s `DefaultResolver::new`
//! forces it): about a sixth of a function's own init time, measured (README, "Cold starts").
//! DynamoDB's client serves every request, so it is built during init, while its connection
//! opens; SNS's and S3's serve only the requests that send an SMS or store or delete an
//! avatar, so they are built when one does. A cold container whose first request is refused
//! never builds them.

use std::fmt;
use std::sync::{Arc, OnceLock};

type Build<C> = Arc<dyn Fn() -> C + Send + Sync>;

/// Cheap to clone; clones share the client once it is built.
pub struct Deferred<C> {
    client: Arc<OnceLock<C>>,
    build: Build<C>,
}

impl<C> Deferred<C> {
    /// A client that `build` makes on the first [`get`](Self::get).
    pub fn new(build: impl Fn() -> C + Send + Sync + 'static) -> Self {
        Deferred { client: Arc::default(), build: Arc::new(build) }
    }

    /// A client already built (the local server and the tests build theirs up front).
    pub fn ready(client: C) -> Self
    where
        C: Clone + Send + Sync + 'static,
    {
        let copy = client.clone();
        Deferred { client: Arc::new(OnceLock::from(client)), build: Arc::new(move || copy.clone()) }
    }

    /// The client, built now if this is its first use.
    pub fn get(&self) -> &C {
        self.client.get_or_init(|| (self.build)())
    }
}

impl<C> Clone for Deferred<C> {
    fn clone(&self) -> Self {
        Deferred { client: self.client.clone(), build: self.build.clone() }
    }
}

impl<C: fmt::Debug> fmt::Debug for Deferred<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.client.get() {
            Some(client) => f.debug_tuple("Deferred").field(client).finish(),
            None => f.write_str("Deferred(not built yet)"),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    #[test]
    fn builds_once_on_first_use_and_clones_share_it() {
        let builds = Arc::new(AtomicUsize::new(0));
        let deferred = Deferred::new({
            let builds = builds.clone();
            move || builds.fetch_add(1, Ordering::SeqCst) + 100
        });
        let copy = deferred.clone();
        assert_eq!(builds.load(Ordering::SeqCst), 0, "nothing is built before the first use");
        assert_eq!(format!("{deferred:?}"), "Deferred(not built yet)");
        assert_eq!(*copy.get(), 100);
        assert_eq!(*deferred.get(), 100);
        assert_eq!(builds.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn a_ready_client_is_used_as_it_is() {
        let deferred = Deferred::ready(7);
        assert_eq!(*deferred.get(), 7);
        assert_eq!(format!("{deferred:?}"), "Deferred(7)");
    }
}
