//! Cold-start baseline: answers every request with 200 "hello". Logging and the single-threaded
//! runtime are set up as the real functions' are, so the comparison measures what they add on top
//! of a minimal Rust Lambda.
use lambda_http::{Body, Error, Request, Response, service_fn};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    lambda_http::tracing::init_default_subscriber();
    // Response::new: status 200.
    lambda_http::run(service_fn(|_: Request| async { Ok::<_, Error>(Response::new(Body::from("hello"))) })).await
}
