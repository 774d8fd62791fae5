//! Opening a connection to the cache: TCP, TLS when the endpoint asks for it, then the Redis
//! handshake (AUTH when credentials are given) on one multiplexed connection.
//!
//! TLS is opened here rather than by the `redis` crate, whose rustls feature reads the system's
//! whole certificate store on every connect: like the SDK's client (`crate::aws_env`), it trusts
//! Amazon Trust Services' roots, which ElastiCache's certificates chain to, plus the PEM file
//! `SSL_CERT_FILE` names (a private CA: the tests' own).

use std::sync::Arc;
use std::time::Duration;

use redis::aio::MultiplexedConnection;
use redis::{AsyncConnectionConfig, RedisConnectionInfo};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
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
            None => tls_config()?,
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

/// One client configuration per process: building the root store parses certificates.
fn tls_config() -> Result<Arc<rustls::ClientConfig>, String> {
    static CONFIG: std::sync::OnceLock<Result<Arc<rustls::ClientConfig>, String>> = std::sync::OnceLock::new();
    CONFIG.get_or_init(build_tls_config).clone()
}

fn build_tls_config() -> Result<Arc<rustls::ClientConfig>, String> {
    let mut roots = rustls::RootCertStore::empty();
    if let Some(file) = std::env::var_os("SSL_CERT_FILE").filter(|f| !f.is_empty()) {
        let extra = CertificateDer::pem_file_iter(&file)
            .map_err(|e| format!("SSL_CERT_FILE {}: {e}", file.to_string_lossy()))?
            .filter_map(Result::ok);
        roots.add_parsable_certificates(extra);
    }
    client_config(roots)
}

/// Amazon's roots and the PEM certificates of `ca` (a private CA).
pub(super) fn trusting(ca: &[u8]) -> Result<Arc<rustls::ClientConfig>, String> {
    let mut roots = rustls::RootCertStore::empty();
    let (added, _) = roots.add_parsable_certificates(CertificateDer::pem_slice_iter(ca).filter_map(Result::ok));
    if added == 0 {
        return Err("no PEM certificate in the given CA".into());
    }
    client_config(roots)
}

fn client_config(mut roots: rustls::RootCertStore) -> Result<Arc<rustls::ClientConfig>, String> {
    let amazon = CertificateDer::pem_slice_iter(crate::aws_env::AMAZON_ROOTS).filter_map(Result::ok);
    roots.add_parsable_certificates(amazon);
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS set-up: {e}"))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}
