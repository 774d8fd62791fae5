//! The functions' HTTP client (`ihome::http_client`) against moto, in process: init's connection
//! (`Destination::preconnect`) is opened without a request, and the first request of the store
//! built from the same settings uses it (it could not, were they to disagree on the endpoint).

use std::sync::atomic::Ordering;

use ihome::config::Config;
use ihome::domain::Mobile;
use ihome::http_client::HttpClient;
use ihome::store::{Destination, DynamoStore, Store};
use ihome_tests::tcp_proxy::CountingProxy;
use ihome_tests::{create_table, moto_endpoint, unique};

/// A store as `lambda::init` builds it, sending to `endpoint`, and the warm-up it starts before.
async fn store_at(endpoint: String, table: &str) -> (DynamoStore, Destination, HttpClient) {
    let http = HttpClient::new(&ihome::tls::client_config().expect("TLS configuration"));
    let env = |name: &str| match name {
        "AWS_REGION" => Some("us-east-1".to_owned()),
        "AWS_ACCESS_KEY_ID" | "AWS_SECRET_ACCESS_KEY" => Some("test".to_owned()),
        "AWS_ENDPOINT_URL" => Some(endpoint.clone()),
        _ => None,
    };
    let sdk = ihome::aws_env::sdk_config_from(env, &http).expect("SDK settings");
    let config = Config { table: table.to_owned(), ..Config::default() };
    (DynamoStore::from_sdk(&sdk, &config), Destination::of(&sdk, &config), http)
}

#[tokio::test]
async fn init_parks_one_connection_and_the_first_request_uses_it() {
    let table = unique("preconnect");
    create_table(&aws_sdk_dynamodb::Client::new(&ihome_tests::sdk_config().await), &table).await;
    let moto: http::Uri = moto_endpoint().parse().expect("moto's endpoint");
    let proxy = CountingProxy::start(moto.port_u16().expect("moto's port")).await;
    let (store, destination, http) = store_at(format!("http://127.0.0.1:{}", proxy.port), &table).await;

    destination.preconnect(&http).await;
    // Had preconnect sent a request, its answer would have come back through the proxy, counted.
    assert_eq!(proxy.counts_after(1).await, (1, 0), "one connection, and no request on it");

    let mobile = Mobile::parse("13800138000").expect("a mobile");
    assert!(!store.mobile_registered(&mobile).await.expect("a read from moto"));
    // (moto's server closes a connection after one answer: later requests dial again.)
    assert_eq!(proxy.connections.load(Ordering::SeqCst), 1, "the first request used init's connection");
    assert!(proxy.bytes_up.load(Ordering::SeqCst) > 0);
}

#[tokio::test]
async fn a_failed_preconnect_leaves_the_store_answering() {
    // Nothing listens there: preconnect fails (and logs), and the store's request, dialling on its
    // own, fails as a store error rather than hanging or panicking.
    let dead = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("a free port").port();
    let (store, destination, http) = store_at(format!("http://127.0.0.1:{dead}"), &unique("preconnect")).await;
    destination.preconnect(&http).await;
    let mobile = Mobile::parse("13800138000").expect("a mobile");
    assert!(store.mobile_registered(&mobile).await.is_err());
}
