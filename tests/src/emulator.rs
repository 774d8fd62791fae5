//! The AWS emulator the test command starts (moto's server): SDK settings pointing at it (or at
//! nothing, for faults), names unique to a test, and fresh tables and buckets in it.

use std::sync::atomic::{AtomicU64, Ordering};

use aws_config::{BehaviorVersion, SdkConfig};

/// The moto endpoint set by the test command.
pub fn moto_endpoint() -> String {
    std::env::var("AWS_ENDPOINT_URL")
        .expect("AWS_ENDPOINT_URL is not set: run the tests through scripts/test.sh, which starts moto")
}

/// moto's settings (the test command's environment), sending through the functions' own HTTP
/// client (`ihome::http_client`), so that every route test also runs over it.
pub async fn sdk_config() -> SdkConfig {
    let _ = moto_endpoint();
    aws_config::defaults(BehaviorVersion::latest()).http_client(functions_http_client()).load().await
}

fn functions_http_client() -> aws_smithy_runtime_api::client::http::SharedHttpClient {
    let tls = ihome::tls::client_config().expect("the functions' TLS configuration");
    ihome::http_client::HttpClient::new(&tls).shared()
}

/// An SDK configuration pointing at a port where nothing listens, with no retries: a store or
/// SMS provider that is down.
pub async fn unreachable_sdk_config() -> SdkConfig {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr").port()
    };
    aws_config::defaults(BehaviorVersion::latest())
        .http_client(functions_http_client())
        .endpoint_url(format!("http://127.0.0.1:{port}"))
        .retry_config(aws_config::retry::RetryConfig::disabled())
        .load()
        .await
}

static SEQ: AtomicU64 = AtomicU64::new(0);

/// A name unique to this process and call, for tables and test data.
pub fn unique(prefix: &str) -> String {
    let n = SEQ.fetch_add(1, Ordering::SeqCst);
    format!("{prefix}-{}-{n}-{}", std::process::id(), rand::random::<u32>())
}

/// A mobile number no other test uses (random, 1[3-9] + 9 digits).
pub fn unique_mobile() -> String {
    use rand::Rng;
    let mut rng = rand::rng();
    format!("1{}{:09}", rng.random_range(3..=9), rng.random_range(0..1_000_000_000u64))
}

/// A fresh table, defined as the stack and the local server define it.
pub async fn create_table(client: &aws_sdk_dynamodb::Client, name: &str) {
    ihome_local::backends::create_table(client, name).await.expect("create table in moto");
}
