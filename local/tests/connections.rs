//! Clients that connect and then stall cannot hold the server's sockets: over real TCP against a
//! server started in-process with short limits, each kind of stall ends its connection, and an
//! oversized body is refused before a byte of it is read.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use ihome::App;
use ihome::cache::Counters;
use ihome::config::Config;
use ihome_local::server::{self, MAX_BODY, ServerConfig, State};
use ihome_local::{AvatarDir, ConsoleSms, EmbeddedStore};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::oneshot;

/// How long a test waits for the server to act on a limit far shorter: only a server that never
/// acts takes this long.
const GENEROUS: Duration = Duration::from_secs(10);
const SHORT: Duration = Duration::from_millis(200);
const LONG: Duration = Duration::from_secs(600);

struct Running {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
    dir: PathBuf,
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        self.task.abort();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

async fn start(name: &str, config: ServerConfig) -> Running {
    let dir = std::env::temp_dir().join(format!("ihome-local-conn-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("avatars")).expect("temp dir");
    let store = EmbeddedStore::open(&dir.join("ihome.redb")).expect("store");
    let app_config = Config { bcrypt_cost: 4, cookie_secure: false, ..Config::default() };
    let app = App::new(
        app_config,
        store.clone(),
        ConsoleSms::new(dir.join("sms.jsonl")),
        AvatarDir::new(dir.join("avatars")),
    )
    .with_limiter(Counters::store_only(store));
    let state = Arc::new(State { app, avatars: None, static_dir: None });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(server::serve_until(listener, state, config, async {
        let _ = stopped.await;
    }));
    Running { addr, stop: Some(stop), task, dir }
}

fn limits(header: Duration, body: Duration, idle: Duration) -> ServerConfig {
    ServerConfig { header_timeout: header, body_timeout: body, idle_timeout: idle }
}

/// Reads until the server closes the connection (end of stream, or a reset when it closed with
/// input unread); answers what arrived. Fails if it stays open for `GENEROUS`.
async fn until_closed(stream: &mut TcpStream) -> Vec<u8> {
    let mut got = Vec::new();
    let read = tokio::time::timeout(GENEROUS, async {
        let mut buf = [0u8; 4096];
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    assert!(read.is_ok(), "the server kept the connection open; got {:?}", String::from_utf8_lossy(&got));
    got
}

/// Reads one response on a kept-alive connection: its status and body.
async fn response(stream: &mut TcpStream) -> (u16, Vec<u8>) {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    let head_end = loop {
        if let Some(i) = got.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let n = tokio::time::timeout(GENEROUS, stream.read(&mut buf)).await.expect("a response").expect("read");
        assert!(n > 0, "closed before a response: {:?}", String::from_utf8_lossy(&got));
        got.extend_from_slice(&buf[..n]);
    };
    let head = String::from_utf8_lossy(&got[..head_end]).to_lowercase();
    let status = head[9..12].parse().expect("status");
    let length: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .map(|v| v.trim().parse().expect("length"))
        .unwrap_or(0);
    while got.len() < head_end + length {
        let n = tokio::time::timeout(GENEROUS, stream.read(&mut buf)).await.expect("a body").expect("read");
        assert!(n > 0, "closed inside a body");
        got.extend_from_slice(&buf[..n]);
    }
    (status, got[head_end..].to_vec())
}

const SMALL_REQUEST: &[u8] = b"GET /api/v1.0/nope HTTP/1.1\r\nHost: localhost\r\n\r\n";

#[tokio::test]
async fn a_half_sent_request_line_is_dropped_after_the_header_timeout() {
    // Only the header limit is short: the idle and body limits cannot be what closes these.
    let server = start("header", limits(SHORT, LONG, LONG)).await;

    // On a new connection.
    let mut first = TcpStream::connect(server.addr).await.unwrap();
    first.write_all(b"GET /api/v1.0/sess").await.unwrap();
    assert_eq!(until_closed(&mut first).await, b"", "closed without an answer");

    // And on a kept-alive one, for the request after a complete one.
    let mut kept = TcpStream::connect(server.addr).await.unwrap();
    kept.write_all(SMALL_REQUEST).await.unwrap();
    assert_eq!(response(&mut kept).await.0, 404);
    kept.write_all(b"GET /api/v1.0/sess").await.unwrap();
    assert_eq!(until_closed(&mut kept).await, b"", "closed without an answer");
}

#[tokio::test]
async fn a_body_that_stops_coming_is_answered_408_after_the_body_timeout() {
    let server = start("body", limits(LONG, SHORT, LONG)).await;
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    stream
        .write_all(b"POST /api/v1.0/users HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"mobile\":")
        .await
        .unwrap();
    let got = String::from_utf8_lossy(&until_closed(&mut stream).await).into_owned();
    assert!(got.starts_with("HTTP/1.1 408 "), "{got}");
    assert!(got.to_lowercase().contains("connection: close"), "{got}");
}

#[tokio::test]
async fn an_idle_kept_alive_connection_is_closed_after_the_idle_timeout() {
    let server = start("idle", limits(LONG, LONG, SHORT)).await;
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    stream.write_all(SMALL_REQUEST).await.unwrap();
    assert_eq!(response(&mut stream).await.0, 404);
    // Kept alive after the answer, but not forever once the client goes quiet.
    assert_eq!(until_closed(&mut stream).await, b"");
}

#[tokio::test]
async fn an_oversized_content_length_is_refused_413_without_waiting_for_the_body() {
    // The body limit is long: an answer within `GENEROUS` cannot come from waiting it out.
    let server = start("large", limits(LONG, LONG, LONG)).await;
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    let head = format!(
        "POST /api/v1.0/users HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        MAX_BODY + 1
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let got = String::from_utf8_lossy(&until_closed(&mut stream).await).into_owned();
    assert!(got.starts_with("HTTP/1.1 413 "), "{got}");
    assert!(got.to_lowercase().contains("connection: close"), "{got}");
}
