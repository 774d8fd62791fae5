//! Route, flow, race, fault and log tests against moto's server, one test binary.

/// The adapters the contract suites run on: DynamoDB on moto (a fresh table), redb, and (for the
/// limiter) Redis: the test command's redis-server.
mod adapters {
    use ihome::cache::{CacheEndpoint, RedisCounters};
    use ihome::store::DynamoStore;
    use ihome_local::EmbeddedStore;
    use ihome_tests::{TestApp, unique};

    pub async fn dynamo() -> DynamoStore {
        TestApp::spawn().await.app.store.clone()
    }

    pub async fn embedded() -> EmbeddedStore {
        let dir = std::env::temp_dir().join(unique("contract"));
        std::fs::create_dir_all(&dir).expect("temp dir");
        EmbeddedStore::open(&dir.join("ihome.redb")).expect("open redb")
    }

    /// The test command's redis-server (`IHOME_TEST_REDIS_URL`).
    pub fn redis_endpoint() -> CacheEndpoint {
        let url = std::env::var("IHOME_TEST_REDIS_URL").expect(
            "IHOME_TEST_REDIS_URL is not set: run the tests through scripts/test.sh, which starts redis-server",
        );
        CacheEndpoint::parse(&url).expect("IHOME_TEST_REDIS_URL")
    }

    /// Counters of a stack of its own (a fresh table name: a fresh key prefix) in that server.
    pub async fn redis() -> RedisCounters {
        RedisCounters::new(redis_endpoint(), &unique("contract"))
    }
}

/// A contract suite: each listed `async fn(adapter)` of the calling module runs once per adapter,
/// in a module named for it: `contract!(on_dynamodb: dynamo, on_embedded: embedded; [tests...])`
/// runs every test on `super::dynamo()` (moto) and `super::embedded()` (redb), as
/// `crate::adapters` makes them.
macro_rules! contract {
    ($($module:ident: $adapter:ident),+; $tests:tt) => {
        $( contract!(@suite $module $adapter $tests); )+
    };
    (@suite $module:ident $adapter:ident [$($name:ident),* $(,)?]) => {
        mod $module {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    super::$name(super::$adapter().await).await;
                }
            )*
        }
    };
}

mod account;
mod auth;
mod avatar;
mod bad_input;
mod budgets;
mod cache;
mod flow;
mod http_client;
mod image_code;
mod limiter_contract;
mod login;
mod logs;
mod name;
mod races;
mod register;
mod round_trips;
mod session;
mod sms_code;
mod store_contract;
