//! The one entry point every function's `main` calls.

use lambda_http::{Request, service_fn};

use crate::app::App;
use crate::config::Config;
use crate::routes::Route;

pub use lambda_http::Error;

/// Sets up logging (JSON when Lambda's log format says so), reads the configuration, builds the
/// clients once, then serves `route` for the life of the container.
pub async fn run(route: Route) -> Result<(), Error> {
    lambda_http::tracing::init_default_subscriber();
    let config = Config::from_env()?;
    // Loads region, credentials and endpoint settings; no network call until the first request.
    let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    // One App for the container's whole life: leaking it gives every invocation a 'static borrow.
    let app: &'static App = Box::leak(Box::new(App::from_sdk_config(config, &sdk)));
    lambda_http::run(service_fn(move |req: Request| async move { Ok::<_, Error>(route.handle(app, req).await) })).await
}
