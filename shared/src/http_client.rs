//! The SDK clients' HTTP client in the functions: hyper's pooled client over rustls (AWS-LC), as
//! the SDK's default one is, which can also open a connection before the first request needs it.
//!
//! Why not the SDK's own: its pool fills only when a request is sent, so opening the DynamoDB
//! connection during init took an API call (`DescribeEndpoints`: the handshake, then a round trip
//! and the service's own time, all of it inside the cold start, and an IAM grant on "*").
//! [`HttpClient::preconnect`] dials and handshakes during init and parks the stream; the pool's
//! first connect to that origin takes it instead of dialling, so a cold container's first
//! request costs one round trip and no handshake, and init no request at all.
//!
//! What the SDK's adapter does besides is kept: its connect timeout, the read timeout its
//! settings ask for, its error classes (I/O and timeouts are retried), and the connection
//! capture through which its retries poison a failed connection.

use std::error::Error as StdError;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::connection::{CaptureSmithyConnection, ConnectionMetadata};
use aws_smithy_runtime_api::client::http::{
    HttpClient as SdkHttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient,
    SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse};
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_runtime_api::client::retries::ErrorKind;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::body::SdkBody;
use http::Uri;
use hyper_rustls::{HttpsConnector, MaybeHttpsStream};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::{CaptureConnection, HttpConnector as Dialer, HttpInfo, capture_connection};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use tokio::net::TcpStream;

/// The SDK's default connect timeout; the functions never change it.
const CONNECT_TIMEOUT: Duration = Duration::from_millis(3100);
/// hyper's pool closes a connection idle this long (its default); a parked one is not used after.
const IDLE_TIMEOUT: Duration = Duration::from_secs(90);

type Stream = MaybeHttpsStream<TokioIo<TcpStream>>;
type Connecting = Pin<Box<dyn Future<Output = Result<Stream, BoxError>> + Send>>;

/// Cheap to clone: clones share the pool and the parked connection.
#[derive(Clone, Debug)]
pub struct HttpClient {
    pool: Client<Connector, SdkBody>,
    connector: Connector,
}

impl HttpClient {
    /// HTTPS with `tls`, plain HTTP for an emulator's endpoint.
    pub fn new(tls: &rustls::ClientConfig) -> HttpClient {
        let mut dialer = Dialer::new();
        dialer.enforce_http(false);
        dialer.set_nodelay(true);
        let mut tls = tls.clone();
        // HTTP/1.1 alone, all this pool speaks (hyper is built without HTTP/2 for the functions):
        // offering h2 would let a server pick a protocol the pool cannot use.
        tls.alpn_protocols = vec![b"http/1.1".to_vec()];
        let connector = Connector { tls: HttpsConnector::from((dialer, tls)), parked: Arc::default() };
        let mut pool = Client::builder(TokioExecutor::new());
        // Without a timer the pool never closes an idle connection.
        pool.pool_timer(TokioTimer::new());
        HttpClient { pool: pool.build(connector.clone()), connector }
    }

    /// Opens a connection to `endpoint`'s origin (DNS, TCP, TLS) and parks it for the first
    /// request there. One connection is parked at a time: a later call replaces it.
    pub async fn preconnect(&self, endpoint: &Uri) -> Result<(), BoxError> {
        let origin = Origin::of(endpoint).ok_or("the endpoint has no host")?;
        let stream = self.connector.dial(endpoint.clone()).await?;
        *self.connector.slot() = Some(Parked { origin, stream, since: Instant::now() });
        Ok(())
    }

    /// As the SDK takes it.
    pub fn shared(&self) -> SharedHttpClient {
        SharedHttpClient::new(self.clone())
    }
}

impl SdkHttpClient for HttpClient {
    fn http_connector(&self, settings: &HttpConnectorSettings, _: &RuntimeComponents) -> SharedHttpConnector {
        SharedHttpConnector::new(Adapter { pool: self.pool.clone(), read_timeout: settings.read_timeout() })
    }
}

/// Scheme, host and port: what hyper's pool keys connections by.
#[derive(Debug, PartialEq, Eq)]
struct Origin {
    https: bool,
    host: String,
    port: u16,
}

impl Origin {
    fn of(uri: &Uri) -> Option<Origin> {
        let https = uri.scheme_str() != Some("http");
        let port = uri.port_u16().unwrap_or(if https { 443 } else { 80 });
        Some(Origin { https, host: uri.host()?.to_ascii_lowercase(), port })
    }
}

#[derive(Debug)]
struct Parked {
    origin: Origin,
    stream: Stream,
    since: Instant,
}

/// Dials as the SDK's connector does (TCP without Nagle, then TLS for https), bounded by the
/// connect timeout, unless a connection to the same origin is parked.
#[derive(Clone, Debug)]
struct Connector {
    tls: HttpsConnector<Dialer>,
    parked: Arc<Mutex<Option<Parked>>>,
}

impl Connector {
    fn slot(&self) -> std::sync::MutexGuard<'_, Option<Parked>> {
        self.parked.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The parked connection, if it is to `dst`'s origin and fresh; an old one is closed.
    fn take_parked(&self, dst: &Uri) -> Option<Stream> {
        let mut slot = self.slot();
        let fresh = slot.as_ref()?.since.elapsed() < IDLE_TIMEOUT;
        if !fresh {
            *slot = None;
            return None;
        }
        if Origin::of(dst).as_ref() != slot.as_ref().map(|p| &p.origin) {
            return None;
        }
        slot.take().map(|p| p.stream)
    }

    fn dial(&self, dst: Uri) -> Connecting {
        use tower::Service;
        let mut tls = self.tls.clone();
        Box::pin(async move {
            std::future::poll_fn(|cx| tls.poll_ready(cx)).await?;
            match tokio::time::timeout(CONNECT_TIMEOUT, tls.call(dst)).await {
                Ok(connected) => connected,
                Err(_) => Err(Box::new(ConnectTimedOut) as BoxError),
            }
        })
    }
}

impl tower::Service<Uri> for Connector {
    type Response = Stream;
    type Error = BoxError;
    type Future = Connecting;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        // `dial` waits for the dialler itself.
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, dst: Uri) -> Self::Future {
        match self.take_parked(&dst) {
            Some(stream) => Box::pin(std::future::ready(Ok(stream))),
            None => self.dial(dst),
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("connect timed out after {CONNECT_TIMEOUT:?}")]
struct ConnectTimedOut;

#[derive(Debug, thiserror::Error)]
#[error("no response headers within the read timeout, {0:?}")]
struct ReadTimedOut(Duration);

/// One SDK client's connector over the shared pool, with its read timeout.
#[derive(Debug)]
struct Adapter {
    pool: Client<Connector, SdkBody>,
    read_timeout: Option<Duration>,
}

impl HttpConnector for Adapter {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let mut request = match request.try_into_http1x() {
            Ok(request) => request,
            Err(e) => return HttpConnectorFuture::ready(Err(ConnectorError::user(e.into()))),
        };
        // The SDK's retries poison a connection that failed, through this.
        let captured = capture_connection(&mut request);
        if let Some(capture) = request.extensions().get::<CaptureSmithyConnection>() {
            capture.set_connection_retriever(move || connection_metadata(&captured));
        }
        let sending = self.pool.request(request);
        let read_timeout = self.read_timeout;
        HttpConnectorFuture::new(async move {
            let response = match read_timeout {
                None => sending.await,
                Some(limit) => match tokio::time::timeout(limit, sending).await {
                    Ok(response) => response,
                    Err(_) => return Err(ConnectorError::timeout(Box::new(ReadTimedOut(limit)))),
                },
            };
            let response = response.map_err(classify)?;
            HttpResponse::try_from(response.map(SdkBody::from_body_1_x))
                .map_err(|e| ConnectorError::other(e.into(), None))
        })
    }
}

fn connection_metadata(captured: &CaptureConnection) -> Option<ConnectionMetadata> {
    let connected = captured.connection_metadata();
    let mut extras = http::Extensions::new();
    connected.as_ref()?.get_extras(&mut extras);
    let info = extras.get::<HttpInfo>();
    let captured = captured.clone();
    let mut metadata = ConnectionMetadata::builder().proxied(false).poison_fn(move || {
        if let Some(connected) = captured.connection_metadata().as_ref() {
            connected.poison();
        }
    });
    metadata.set_remote_addr(info.map(HttpInfo::remote_addr)).set_local_addr(info.map(HttpInfo::local_addr));
    Some(metadata.build())
}

/// The SDK adapter's classes: timeouts, and I/O (connecting, a closed connection), are transient
/// and retried; the caller's own mistakes are not.
fn classify(error: hyper_util::client::legacy::Error) -> ConnectorError {
    if find::<ConnectTimedOut>(&error).is_some() {
        return ConnectorError::timeout(error.into());
    }
    if error.is_connect() {
        return ConnectorError::io(error.into());
    }
    if let Some(hyper) = find::<hyper::Error>(&error) {
        if hyper.is_timeout() {
            return ConnectorError::timeout(error.into());
        }
        if hyper.is_user() {
            return ConnectorError::user(error.into());
        }
        if hyper.is_closed() || hyper.is_canceled() || find::<std::io::Error>(hyper).is_some() {
            return ConnectorError::io(error.into());
        }
        if hyper.is_incomplete_message() {
            return ConnectorError::other(error.into(), Some(ErrorKind::TransientError));
        }
    }
    if find::<std::io::Error>(&error).is_some() {
        return ConnectorError::io(error.into());
    }
    ConnectorError::other(error.into(), None)
}

fn find<'a, E: StdError + 'static>(error: &'a (dyn StdError + 'static)) -> Option<&'a E> {
    std::iter::successors(Some(error), |&e| e.source()).find_map(|e| e.downcast_ref::<E>())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_compare_as_the_pool_keys_them() {
        let of = |s: &str| Origin::of(&s.parse::<Uri>().unwrap());
        assert_eq!(of("https://dynamodb.us-east-1.amazonaws.com"), of("https://DynamoDB.us-east-1.amazonaws.com:443/"));
        assert_eq!(of("http://127.0.0.1:5000/"), of("http://127.0.0.1:5000"));
        assert_ne!(of("http://127.0.0.1:5000"), of("https://127.0.0.1:5000"));
        assert_ne!(of("http://127.0.0.1:5000"), of("http://127.0.0.1:5001"));
        assert_eq!(of("/relative"), None);
    }
}
