//! A TCP proxy to a port on 127.0.0.1 that counts the connections opened through it and the bytes
//! sent up them: whether a client reuses a connection, and whether it sent anything on it.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::net::{TcpListener, TcpStream};

/// Forwards every connection to `target`, counting connections and bytes sent to it.
pub struct CountingProxy {
    pub port: u16,
    pub connections: Arc<AtomicUsize>,
    pub bytes_up: Arc<AtomicUsize>,
}

impl CountingProxy {
    pub async fn start(target: u16) -> CountingProxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let port = listener.local_addr().expect("proxy addr").port();
        let connections = Arc::new(AtomicUsize::new(0));
        let bytes_up = Arc::new(AtomicUsize::new(0));
        let (c, b) = (connections.clone(), bytes_up.clone());
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                c.fetch_add(1, Ordering::SeqCst);
                let b = b.clone();
                tokio::spawn(async move {
                    let Ok(server) = TcpStream::connect(("127.0.0.1", target)).await else { return };
                    let (mut cr, mut cw) = client.into_split();
                    let (mut sr, mut sw) = server.into_split();
                    let up = async {
                        let mut buf = vec![0u8; 16 * 1024];
                        loop {
                            let n = match tokio::io::AsyncReadExt::read(&mut cr, &mut buf).await {
                                Ok(0) | Err(_) => break,
                                Ok(n) => n,
                            };
                            b.fetch_add(n, Ordering::SeqCst);
                            if tokio::io::AsyncWriteExt::write_all(&mut sw, &buf[..n]).await.is_err() {
                                break;
                            }
                        }
                        let _ = tokio::io::AsyncWriteExt::shutdown(&mut sw).await;
                    };
                    let down = async {
                        let _ = tokio::io::copy(&mut sr, &mut cw).await;
                        let _ = tokio::io::AsyncWriteExt::shutdown(&mut cw).await;
                    };
                    tokio::join!(up, down);
                });
            }
        });
        CountingProxy { port, connections, bytes_up }
    }

    /// Connections and bytes so far, once the proxy has accepted at least `connections`: a
    /// client's connect returns before the proxy's accept runs (within 10 s, else a panic).
    pub async fn counts_after(&self, connections: usize) -> (usize, usize) {
        for _ in 0..1000 {
            if self.connections.load(Ordering::SeqCst) >= connections {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        let counts = (self.connections.load(Ordering::SeqCst), self.bytes_up.load(Ordering::SeqCst));
        assert!(counts.0 >= connections, "the proxy accepted {} connections, not {connections}", counts.0);
        counts
    }
}
