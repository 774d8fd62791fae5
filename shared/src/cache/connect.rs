//! Opening a connection to the cache: TCP, TLS when the endpoint asks for it, then the Redis
//! handshake (AUTH when credentials are given) on one multiplexed connection.
//!
//! TLS is opened here rather than by the `redis` crate, whose rustls feature reads the system's
//! whole certificate store on every connect: like the SDK's clients, it trusts `crate::tls`'s roots.

use std::sync::Arc;
use std::time::Duration;

use redis::aio::MultiplexedConnection;
use redis::{AsyncConnectionConfig, RedisConnectionInfo};
use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio::task::AbortHandle;

use super::CacheEndpoint;

/// An open connection and the task driving it (aborted when the connection is replaced).
pub(super) struct Open {
    pub conn: MultiplexedConnection,
    pub driver: AbortHandle,
}

trait Stream: AsyncRead + AsyncWrite + Send + Unpin {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin> Stream for T {}

pub(super) async fn open(
    endpoint: &CacheEndpoint,
    trust: Option<&Arc<rustls::ClientConfig>>,
    response_timeout: Duration,
) -> Result<Open, String> {
    let tcp = TcpStream::connect((endpoint.host.as_str(), endpoint.port))
        .await
        .map_err(|e| format!("cannot connect to {endpoint}: {e}"))?;
    // Counters are tiny request/response pairs: never wait to coalesce them.
    let _ = tcp.set_nodelay(true);
    let stream: Box<dyn Stream> = if endpoint.tls {
        let name = ServerName::try_from(endpoint.host.clone()).map_err(|e| format!("{endpoint}: {e}"))?;
        let config = match trust {
            Some(c) => c.clone(),
            None => crate::tls::client_config()?,
        };
        let tls = tokio_rustls::TlsConnector::from(config)
            .connect(name, tcp)
            .await
            .map_err(|e| format!("TLS with {endpoint} failed: {e}"))?;
        Box::new(tls)
    } else {
        Box::new(tcp)
    };
    let mut info = RedisConnectionInfo::default().set_skip_set_lib_name();
    if let Some(user) = &endpoint.username {
        info = info.set_username(user);
    }
    if let Some(password) = &endpoint.password {
        info = info.set_password(password);
    }
    let config = AsyncConnectionConfig::new().set_response_timeout(Some(response_timeout));
    let (conn, driver) = MultiplexedConnection::new_with_config(&info, stream, config)
        .await
        .map_err(|e| format!("Redis handshake with {endpoint} failed: {e}"))?;
    let driver = tokio::spawn(driver).abort_handle();
    Ok(Open { conn, driver })
}
