//! Start-up every function's `main` calls: logging, configuration, the SDK settings and the
//! DynamoDB store (its connection opened during init), then the Lambda runtime serving one route.

use std::future::Future;
use std::time::{Duration, Instant};

use aws_types::SdkConfig;
use lambda_http::{Body, Request, Response, service_fn};

use crate::app::App;
use crate::config::Config;
use crate::error::ApiError;
use crate::routes::Route;
use crate::store::DynamoStore;

pub use lambda_http::Error;

/// How long init waits for the DynamoDB connection before serving without it.
const WARM_UP_LIMIT: Duration = Duration::from_secs(2);

/// What every function starts with. Add the route's other ports with `into_app`.
pub struct Init {
    pub config: Config,
    pub sdk: SdkConfig,
    pub store: DynamoStore,
    warm_up: tokio::task::JoinHandle<()>,
}

/// Sets up logging (JSON when Lambda's log format says so), reads the configuration and the SDK
/// settings, builds the DynamoDB client and starts opening its connection, in the background
/// while the caller builds the rest.
pub async fn init() -> Result<Init, Error> {
    lambda_http::tracing::init_default_subscriber();
    let config = Config::from_env()?;
    let sdk = crate::aws_env::sdk_config()?;
    let store = DynamoStore::from_sdk(&sdk, &config);
    let warm_up = tokio::spawn({
        let store = store.clone();
        async move { store.warm_up().await }
    });
    Ok(Init { config, sdk, store, warm_up })
}

impl Init {
    /// The container's one `App`, with the route's ports: `()` for a port the route has not.
    /// Waits (boundedly) for the DynamoDB connection, so the first request finds it open.
    pub async fn into_app<M: 'static, A: 'static>(self, sms: M, avatars: A) -> &'static App<DynamoStore, M, A> {
        let (config, store) = self.warmed_up().await;
        leak(App::new(config, store, sms, avatars))
    }

    /// As `into_app`, for a route with abuse budgets: they are counted in the same table.
    pub async fn into_app_with_budgets<M: 'static, A: 'static>(
        self,
        sms: M,
        avatars: A,
    ) -> &'static App<DynamoStore, M, A, DynamoStore> {
        let (config, store) = self.warmed_up().await;
        leak(App::new(config, store.clone(), sms, avatars).with_limiter(store))
    }

    async fn warmed_up(self) -> (Config, DynamoStore) {
        if tokio::time::timeout(WARM_UP_LIMIT, self.warm_up).await.is_err() {
            tracing::warn!("DynamoDB warm-up still running after {WARM_UP_LIMIT:?}; serving anyway");
        }
        (self.config, self.store)
    }
}

/// One App for the container's whole life: leaking it gives every invocation a 'static borrow.
fn leak<T>(app: T) -> &'static T {
    Box::leak(Box::new(app))
}

/// Serves `route` with `handler` for the life of the container.
pub async fn serve<F, Fut>(route: Route, handler: F) -> Result<(), Error>
where
    F: Fn(Request) -> Fut,
    Fut: Future<Output = Result<Response<Body>, ApiError>> + Send,
{
    lambda_http::run(service_fn(move |req: Request| {
        let started = Instant::now();
        let handled = handler(req);
        async move { Ok::<_, Error>(route.respond(started, handled.await)) }
    }))
    .await
}
