//! A cache that goes down or slow on demand: a TCP proxy in front of the test command's
//! redis-server. `Up` forwards; `Down` closes every connection and refuses new ones; `Slow`
//! keeps connections open but never answers (a cache slower than any timeout).

use std::sync::Arc;

use ihome::cache::CacheEndpoint;
use tokio::io::copy_bidirectional;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Up,
    Down,
    Slow,
}

pub struct CacheProxy {
    pub endpoint: CacheEndpoint,
    mode: Arc<watch::Sender<Mode>>,
    task: tokio::task::JoinHandle<()>,
}

impl CacheProxy {
    /// A proxy to `upstream` (plain TCP), starting `Up`.
    pub async fn start(upstream: &CacheEndpoint) -> CacheProxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let port = listener.local_addr().expect("addr").port();
        let (tx, _) = watch::channel(Mode::Up);
        let mode = Arc::new(tx);
        let upstream = (upstream.host.clone(), upstream.port);
        let task = tokio::spawn({
            let mode = mode.clone();
            async move {
                while let Ok((client, _)) = listener.accept().await {
                    tokio::spawn(serve(client, upstream.clone(), mode.subscribe()));
                }
            }
        });
        CacheProxy { endpoint: CacheEndpoint::new("127.0.0.1", port, false), mode, task }
    }

    pub fn set(&self, mode: Mode) {
        self.mode.send_replace(mode);
    }
}

impl Drop for CacheProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn serve(mut client: TcpStream, upstream: (String, u16), mut mode: watch::Receiver<Mode>) {
    let current = *mode.borrow_and_update();
    match current {
        Mode::Down => return,
        Mode::Slow => return hold(client, mode).await,
        Mode::Up => {}
    }
    let Ok(mut server) = TcpStream::connect((upstream.0.as_str(), upstream.1)).await else { return };
    tokio::select! {
        _ = copy_bidirectional(&mut client, &mut server) => {}
        _ = mode.changed() => {
            drop(server);
            if *mode.borrow() == Mode::Slow {
                hold(client, mode).await;
            }
        }
    }
}

/// Keeps the connection open, unanswered, until the mode changes again.
async fn hold(client: TcpStream, mut mode: watch::Receiver<Mode>) {
    let _ = mode.changed().await;
    drop(client);
}
