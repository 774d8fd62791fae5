//! Start-up every function's `main` calls: logging, configuration, the SDK settings and the
//! DynamoDB store (its connection opened during init, without a request), then the Lambda runtime serving one route.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_types::SdkConfig;
use lambda_http::{Body, Request, Response, service_fn};

use crate::app::App;
use crate::cache::{Counters, RedisCounters};
use crate::config::Config;
use crate::error::ApiError;
use crate::routes::Route;
use crate::store::{Destination, DynamoStore};

pub use lambda_http::Error;

/// How long init waits for the DynamoDB connection before serving without it.
const WARM_UP_LIMIT: Duration = Duration::from_secs(2);

/// What every function starts with. Add the route's other ports with `into_app`.
pub struct Init {
    pub config: Config,
    pub sdk: SdkConfig,
    warm_up: tokio::task::JoinHandle<()>,
}

/// Sets up logging (JSON when Lambda's log format says so, `init_logging`), reads the configuration and the SDK
/// settings, and starts opening the DynamoDB connection, in the background while the caller sets
/// up the route's other ports and `into_app` builds the DynamoDB client.
///
/// Not `async`, and not inlined, like every function here that a function's `main` calls: Rust
/// compiles the body of an `async fn` (and what it awaits, down to the SDK's and the runtime's
/// futures) again in each crate that awaits it, so each of fifteen binaries recompiled all of
/// this. A future made and boxed here is compiled here, once (README, "Build times").
#[inline(never)]
pub fn init() -> Result<Init, Error> {
    init_logging();
    let config = Config::from_env()?;
    let (sdk, http) = crate::aws_env::sdk_config()?;
    let destination = Destination::of(&sdk, &config);
    let warm_up = tokio::spawn(async move { destination.preconnect(&http).await });
    Ok(Init { config, sdk, warm_up })
}

type Cache = (Arc<RedisCounters>, tokio::task::JoinHandle<()>);

impl Init {
    /// The container's one `App`, with the route's ports: `()` for a port the route has not.
    /// Waits (boundedly) for the DynamoDB connection, so the first request finds it open.
    pub async fn into_app<M: 'static, A: 'static>(self, sms: M, avatars: A) -> &'static App<DynamoStore, M, A> {
        let (config, store) = self.warmed_up().await;
        leak(App::new(config, store, sms, avatars))
    }

    /// As `into_app`, for a route with abuse budgets: counted in the cache tier when it is
    /// configured (its connection opened during init too), else in the same table.
    pub async fn into_app_with_budgets<M: 'static, A: 'static>(
        self,
        sms: M,
        avatars: A,
    ) -> &'static App<DynamoStore, M, A, Counters<DynamoStore>> {
        let cache = self.start_cache();
        let (config, store) = self.warmed_up().await;
        let counters = match cache {
            None => Counters::store_only(store.clone()),
            Some((cache, warming)) => {
                // Bounded inside: the look-up by the SDK's timeouts, the connect by one second.
                let _ = warming.await;
                Counters::cached(cache, store.clone())
            }
        };
        leak(App::new(config, store, sms, avatars).with_limiter(counters))
    }

    /// The cache tier's counters, when it is configured, and their connection opening. Started
    /// here rather than in `init`, so that functions without budgets link no cache code; still in
    /// parallel with the DynamoDB connection, which `init` started.
    #[inline(never)]
    fn start_cache(&self) -> Option<Cache> {
        self.config.cache.as_ref().map(|setting| {
            let counters = Arc::new(RedisCounters::from_setting(setting, &self.sdk, &self.config.table));
            let warming = tokio::spawn({
                let counters = counters.clone();
                async move { counters.warm_up().await }
            });
            (counters, warming)
        })
    }

    /// The DynamoDB store, its connection open (or given up on). The client is built once the
    /// warm-up has had its first turn: by then it has resolved the endpoint and started the
    /// dial (the DNS look-up on the blocking pool, then the connect), so on AWS building the client
    /// takes the place of waiting for the network instead of coming before it.
    #[inline(never)]
    fn warmed_up(self) -> crate::Boxed<'static, (Config, DynamoStore)> {
        crate::boxed(async move {
            tokio::task::yield_now().await;
            let store = DynamoStore::from_sdk(&self.sdk, &self.config);
            if tokio::time::timeout(WARM_UP_LIMIT, self.warm_up).await.is_err() {
                tracing::warn!("DynamoDB connection still opening after {WARM_UP_LIMIT:?}; serving anyway");
            }
            (self.config, store)
        })
    }
}

/// Lambda's log controls, as `lambda_http::tracing::init_default_subscriber` reads them
/// (`AWS_LAMBDA_LOG_FORMAT`: JSON or text; `AWS_LAMBDA_LOG_LEVEL`, else `RUST_LOG`: a level), with
/// a plain level filter: its `EnvFilter` compiles regular expressions at every cold start and
/// links ~240 KB of regex engine into each function for per-module directives that Lambda's
/// controls never set.
fn init_logging() {
    let level = std::env::var("AWS_LAMBDA_LOG_LEVEL").or_else(|_| std::env::var("RUST_LOG")).unwrap_or_default();
    let level = log_level(&level);
    let json = std::env::var("AWS_LAMBDA_LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("json"));
    let logs = tracing_subscriber::fmt().with_target(false).without_time().with_max_level(level);
    if json { logs.json().init() } else { logs.init() }
}

/// Lambda's levels (TRACE … ERROR, and FATAL, which tracing has not: ERROR); INFO otherwise.
fn log_level(name: &str) -> tracing_subscriber::filter::LevelFilter {
    use tracing_subscriber::filter::LevelFilter;
    match name.trim() {
        // tracing reads "" as ERROR.
        "" => LevelFilter::INFO,
        l if l.eq_ignore_ascii_case("fatal") => LevelFilter::ERROR,
        l => l.parse().unwrap_or(LevelFilter::INFO),
    }
}

/// One App for the container's whole life: leaking it gives every invocation a 'static borrow.
fn leak<T>(app: T) -> &'static T {
    Box::leak(Box::new(app))
}

/// Serves `route` with `handler` for the life of the container.
pub async fn serve<F, Fut>(route: Route, handler: F) -> Result<(), Error>
where
    F: Fn(Request) -> Fut + 'static,
    Fut: Future<Output = Result<Response<Body>, ApiError>> + Send + 'static,
{
    serve_boxed(route, Box::new(move |req| Box::pin(handler(req)))).await
}

type Handling = Pin<Box<dyn Future<Output = Result<Response<Body>, ApiError>> + Send>>;

/// The Lambda runtime's loop, compiled here once (see `init`): one allocation a request.
#[inline(never)]
fn serve_boxed(
    route: Route,
    handler: Box<dyn Fn(Request) -> Handling>,
) -> Pin<Box<dyn Future<Output = Result<(), Error>>>> {
    Box::pin(lambda_http::run(service_fn(move |req: Request| {
        let started = Instant::now();
        let handled = handler(req);
        async move { Ok::<_, Error>(route.respond(started, handled.await)) }
    })))
}

#[cfg(test)]
mod tests {
    use super::log_level;
    use tracing_subscriber::filter::LevelFilter;

    #[test]
    fn reads_lambdas_log_levels() {
        assert_eq!(log_level("DEBUG"), LevelFilter::DEBUG);
        assert_eq!(log_level("warn"), LevelFilter::WARN);
        assert_eq!(log_level("FATAL"), LevelFilter::ERROR);
        assert_eq!(log_level(""), LevelFilter::INFO);
        assert_eq!(log_level("ihome=debug"), LevelFilter::INFO);
    }
}
