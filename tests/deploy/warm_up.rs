//! No TLS handshake on a cold container's first request: the function opens its DynamoDB
//! connection during init, without a request (`ihome::http_client`). Shown against moto served over HTTPS (a certificate this test makes
//! and the function trusts), through a TCP proxy that counts the connections opened to it.
//!
//! moto's own server (werkzeug) closes every connection after one answer, which would hide
//! reuse, so moto's application is served here with keep-alive, as AWS serves it
//! (`scripts/moto_server.py --keep-alive`).

use std::path::Path;
use std::sync::atomic::Ordering;
use std::time::Duration;

use ihome_tests::runtime_api::{FunctionProcess, Outcome};
use ihome_tests::tcp_proxy::CountingProxy;
use ihome_tests::tls::certificates;
use serde_json::Value;
use tokio::net::TcpStream;

use crate::{files, replay};

/// moto on HTTPS (`-c`/`-k`) with keep-alive, in the linearizable wrapper the test command runs.
struct TlsMoto {
    child: tokio::process::Child,
    port: u16,
}

impl TlsMoto {
    async fn start(dir: &Path, cert: &str, key: &str) -> TlsMoto {
        let root = files::root();
        let (cert_file, key_file) = (dir.join("server.pem"), dir.join("server.key"));
        std::fs::write(&cert_file, cert).expect("write cert");
        std::fs::write(&key_file, key).expect("write key");
        let port = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("free port").port();
        let child = tokio::process::Command::new(root.join(".venv-moto/bin/python"))
            .arg(root.join("scripts/moto_server.py"))
            .args(["--keep-alive", "-H", "127.0.0.1", "-p", &port.to_string(), "-c"])
            .arg(&cert_file)
            .arg("-k")
            .arg(&key_file)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("start moto over HTTPS (.venv-moto is made by scripts/test.sh)");
        for _ in 0..150 {
            if TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
                return TlsMoto { child, port };
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("moto over HTTPS did not start on port {port}");
    }
}

/// moto over HTTPS behind a counting proxy, and the CA file that makes its certificate trusted.
async fn tls_stack() -> (TlsMoto, CountingProxy, std::path::PathBuf) {
    let dir = std::env::temp_dir().join(ihome_tests::unique("warm-up"));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let (ca, cert, key) = certificates();
    let ca_file = dir.join("ca.pem");
    std::fs::write(&ca_file, &ca).expect("write CA");
    let moto = TlsMoto::start(&dir, &cert, &key).await;
    let proxy = CountingProxy::start(moto.port).await;
    (moto, proxy, ca_file)
}

/// `get-user`'s arm64 artifact pointed at `endpoint`, trusting `ca_file` when given, once its init
/// is over (its first `GET /next`).
async fn initialised_get_user(endpoint: String, ca_file: Option<&Path>) -> FunctionProcess {
    let process = start_get_user(endpoint, ca_file).await;
    process
        .api
        .wait_for_init(Duration::from_secs(60))
        .await
        .unwrap_or_else(|e| panic!("get-user did not finish its init: {e}\n{}", process.output().join("\n")));
    process
}

async fn start_get_user(endpoint: String, ca_file: Option<&Path>) -> FunctionProcess {
    let mut env: Vec<(String, String)> = [
        ("AWS_REGION", "us-east-1".to_owned()),
        ("AWS_ACCESS_KEY_ID", "test".to_owned()),
        ("AWS_SECRET_ACCESS_KEY", "test".to_owned()),
        ("AWS_ENDPOINT_URL", endpoint),
        ("IHOME_TABLE", ihome_tests::unique("warm-up")),
        ("AWS_LAMBDA_LOG_FORMAT", "JSON".to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    if let Some(ca) = ca_file {
        // The system store, which then holds this test's CA and nothing else.
        env.push(("SSL_CERT_FILE".to_owned(), ca.display().to_string()));
    }
    replay::spawn_artifact("get-user", &env).await
}

fn get_user_event() -> Value {
    serde_json::from_str(&files::read("events/get-user.json")).expect("events/get-user.json")
}

/// The envelope of a lambda_http response.
fn envelope(outcome: Outcome) -> Value {
    let Outcome::Response(resp) = outcome else { panic!("get-user failed: {outcome:?}") };
    serde_json::from_str(resp["body"].as_str().unwrap_or_default()).expect("an envelope")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cold_functions_first_request_opens_no_new_tls_connection() {
    let (moto, proxy, ca_file) = tls_stack().await;
    let mut process = initialised_get_user(format!("https://127.0.0.1:{}", proxy.port), Some(&ca_file)).await;
    let after_init = proxy.counts_after(1).await;
    assert_eq!(after_init.0, 1, "init opens exactly one connection to DynamoDB:\n{}", process.output().join("\n"));
    assert!(after_init.1 > 0, "and completes its TLS handshake during init");

    let outcome = process.invoke(&get_user_event(), Duration::from_secs(60)).await.expect("an answer");
    let body = envelope(outcome);
    // The table does not exist in this moto: the request reached DynamoDB and came back DBERR.
    assert_eq!(body["errno"], "4001", "{body}");
    let after_invoke = (proxy.connections.load(Ordering::SeqCst), proxy.bytes_up.load(Ordering::SeqCst));
    assert!(after_invoke.1 > after_init.1, "the invocation's DynamoDB request went through the proxy");
    assert_eq!(after_invoke.0, 1, "the first request reused init's connection: no new TLS handshake");
    process.stop().await;
    drop(moto.child);
}

/// Init opens the connection without sending anything on it: over plain HTTP (the test command's
/// moto), no byte goes up until the first request, which then uses that connection.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn init_opens_the_connection_without_a_request() {
    let moto: http::Uri = ihome_tests::moto_endpoint().parse().expect("moto's endpoint");
    let proxy = CountingProxy::start(moto.port_u16().expect("moto's port")).await;
    let mut process = initialised_get_user(format!("http://127.0.0.1:{}", proxy.port), None).await;
    let after_init = proxy.counts_after(1).await;
    assert_eq!(after_init, (1, 0), "init opens one connection and sends nothing on it");

    let body = envelope(process.invoke(&get_user_event(), Duration::from_secs(60)).await.expect("an answer"));
    assert_eq!(body["errno"], "4001", "{body}");
    let after_invoke = (proxy.connections.load(Ordering::SeqCst), proxy.bytes_up.load(Ordering::SeqCst));
    assert!(after_invoke.1 > 0, "the invocation's request went through the proxy");
    assert_eq!(after_invoke.0, 1, "the first request used init's connection");
    process.stop().await;
}

/// Without `SSL_CERT_FILE`, a function trusts Amazon's roots alone: a server certificate from any
/// other CA (this test's) fails the handshake, and the route answers DBERR.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn functions_trust_amazons_roots_alone() {
    let (moto, proxy, _ca_file) = tls_stack().await;
    let mut process = initialised_get_user(format!("https://127.0.0.1:{}", proxy.port), None).await;
    let outcome = process.invoke(&get_user_event(), Duration::from_secs(60)).await.expect("an answer");
    let body = envelope(outcome);
    assert_eq!((body["errno"].as_str(), body["errmsg"].as_str()), (Some("4001"), Some("查询登录状态失败")), "{body}");
    let logs = process.stop().await.join("\n");
    assert!(logs.contains("UnknownIssuer") || logs.contains("invalid peer certificate"), "{logs}");
    drop(moto.child);
}
