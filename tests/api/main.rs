//! Route, flow, race, fault and log tests against moto's server, one test binary.

/// The two adapters the contract suites run on: DynamoDB on moto (a fresh table) and redb.
mod adapters {
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
}

/// A contract suite: each listed `async fn(adapter)` of the calling module runs once per adapter,
/// on `super::dynamo()` (moto) and `super::embedded()` (redb), as `crate::adapters` makes them.
macro_rules! contract {
    ($($name:ident),* $(,)?) => {
        mod on_dynamodb {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    super::$name(super::dynamo().await).await;
                }
            )*
        }
        mod on_embedded {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    super::$name(super::embedded().await).await;
                }
            )*
        }
    };
}

mod auth;
mod avatar;
mod bad_input;
mod budgets;
mod flow;
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
