//! HTTP on 127.0.0.1: each request becomes the `lambda_http::Request` API Gateway would hand the
//! function (path and query parameters included), and the route's own handler answers it.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{Response, StatusCode, header};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Body as _, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use hyper_util::server::graceful::GracefulShutdown;
use ihome::avatars::AvatarStore;
use ihome::limits::Limiter;
use ihome::sms::SmsSender;
use ihome::store::Store;
use ihome::{App, Route};
use lambda_http::RequestExt;
use lambda_http::aws_lambda_events::apigw::ApiGatewayV2httpRequestContext;
use lambda_http::aws_lambda_events::query_map::QueryMap;
use lambda_http::request::RequestContext;

use crate::avatar_bucket::AvatarBucket;
use crate::backoff::AcceptBackoff;
use crate::outbox::console_line;
use crate::statics;
use crate::timed_io::{ConnPhase, TimedIo};

/// Lambda's synchronous payload limit: API Gateway could not hand a function more.
pub const MAX_BODY: usize = 6 * 1024 * 1024;

/// How long a connection may take over each part of a request, so idle or slow clients cannot
/// hold sockets (and file descriptors) forever.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServerConfig {
    /// For a request's head: from a new connection's accept, or a later request's first byte.
    pub header_timeout: Duration,
    /// For a request's whole body, from the end of its head; a late one is answered 408.
    pub body_timeout: Duration,
    /// Between requests on a kept-alive connection, and for a client to take its response.
    pub idle_timeout: Duration,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(60),
        }
    }
}

pub struct State<S, M, A, L> {
    pub app: App<S, M, A, L>,
    /// Where the avatars served at `/avatars/…` come from; none: that path is not special.
    pub avatars: Option<AvatarFiles>,
    pub static_dir: Option<PathBuf>,
}

/// The source of the avatars the server serves at `/avatars/…`, where the avatar URLs it hands
/// out point.
#[derive(Debug, Clone)]
pub enum AvatarFiles {
    /// Files in a folder (the embedded defaults' avatar folder).
    Dir(PathBuf),
    /// Objects of the private avatar bucket (`--aws`), as the stack's CloudFront serves them.
    Bucket(AvatarBucket),
}

/// Serves until Ctrl-C or SIGTERM, then lets requests in flight finish (up to 10 s).
pub async fn serve<S, M, A, L>(listener: tokio::net::TcpListener, state: Arc<State<S, M, A, L>>, config: ServerConfig)
where
    S: Store + 'static,
    M: SmsSender + 'static,
    A: AvatarStore + 'static,
    L: Limiter + 'static,
{
    serve_until(listener, state, config, shutdown_signal()).await;
}

/// Serves until `shutdown` completes, then lets requests in flight finish (up to 10 s).
pub async fn serve_until<S, M, A, L>(
    listener: tokio::net::TcpListener,
    state: Arc<State<S, M, A, L>>,
    config: ServerConfig,
    shutdown: impl Future<Output = ()>,
) where
    S: Store + 'static,
    M: SmsSender + 'static,
    A: AvatarStore + 'static,
    L: Limiter + 'static,
{
    let graceful = GracefulShutdown::new();
    let mut backoff = AcceptBackoff::new();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    backoff.accepted();
                    serve_connection(stream, state.clone(), config, &graceful);
                }
                Err(e) => {
                    let Some(pause) = backoff.failed(&e) else { continue };
                    if backoff.failures() == 1 {
                        tracing::warn!(error = %e, "cannot accept connections; retrying with pauses");
                    }
                    tokio::select! {
                        () = tokio::time::sleep(pause) => {}
                        () = &mut shutdown => break,
                    }
                }
            },
            () = &mut shutdown => break,
        }
    }
    drop(listener);
    console_line("ihome-local: shutting down, finishing requests in flight");
    if tokio::time::timeout(Duration::from_secs(10), graceful.shutdown()).await.is_err() {
        eprintln!("ihome-local: some connections did not finish within 10 s");
    }
}

/// Serves one connection on its own task, within `config`'s limits.
fn serve_connection<S, M, A, L>(
    stream: tokio::net::TcpStream,
    state: Arc<State<S, M, A, L>>,
    config: ServerConfig,
    graceful: &GracefulShutdown,
) where
    S: Store + 'static,
    M: SmsSender + 'static,
    A: AvatarStore + 'static,
    L: Limiter + 'static,
{
    // Budgets count per client address: the socket peer, never a header the client writes.
    let peer = stream.peer_addr().ok().map(|a| a.ip());
    let phase = ConnPhase::new(config.header_timeout, config.idle_timeout);
    let io = TokioIo::new(TimedIo::new(stream, phase.clone()));
    let service = service_fn(move |req| {
        phase.busy();
        let (state, phase) = (state.clone(), phase.clone());
        async move {
            let resp = handle(&state, req, config.body_timeout, peer).await;
            phase.answered();
            Ok::<_, Infallible>(resp)
        }
    });
    // `TimedIo` holds the header and idle limits; hyper's own header timer would also end idle
    // connections at the header limit.
    let conn = http1::Builder::new().header_read_timeout(None).serve_connection(io, service);
    let conn = graceful.watch(conn);
    tokio::spawn(async move {
        if let Err(e) = conn.await {
            tracing::debug!(error = %e, "connection ended with an error");
        }
    });
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}

/// An answer after which the connection closes: the rest of the request was not read.
fn closing(mut resp: Response<Full<Bytes>>) -> Response<Full<Bytes>> {
    resp.headers_mut().insert(header::CONNECTION, http::HeaderValue::from_static("close"));
    resp
}

/// Where `ihome-local` serves `openapi.yaml`.
pub const OPENAPI_PATH: &str = "/api/v1.0/openapi.yaml";

fn openapi() -> Response<Full<Bytes>> {
    let mut resp = Response::new(Full::new(Bytes::from_static(include_bytes!("../../openapi.yaml"))));
    let headers = resp.headers_mut();
    headers.insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static("application/yaml"));
    headers.insert(http::header::CACHE_CONTROL, http::HeaderValue::from_static("no-cache"));
    resp
}

fn plain(status: StatusCode, message: &str) -> Response<Full<Bytes>> {
    let body = format!("{{\"message\":\"{message}\"}}");
    let mut resp = Response::new(Full::new(Bytes::from(body)));
    *resp.status_mut() = status;
    resp.headers_mut().insert(header::CONTENT_TYPE, http::HeaderValue::from_static("application/json"));
    resp
}

async fn handle<S: Store, M: SmsSender, A: AvatarStore, L: Limiter>(
    state: &State<S, M, A, L>,
    req: http::Request<Incoming>,
    body_timeout: Duration,
    peer: Option<IpAddr>,
) -> Response<Full<Bytes>> {
    let path = req.uri().path().to_owned();
    if let Some((route, params)) = Route::resolve(req.method().as_str(), &path) {
        return api(&state.app, route, params, req, body_timeout, peer).await;
    }
    // The contract, served beside the API it describes (the repository's own copy).
    if path == OPENAPI_PATH && (req.method() == http::Method::GET || req.method() == http::Method::HEAD) {
        return openapi();
    }
    // As API Gateway: anything under the API's base path that no route matches is a 404.
    if path.starts_with("/api/") {
        return plain(StatusCode::NOT_FOUND, "Not Found");
    }
    if req.method() != http::Method::GET && req.method() != http::Method::HEAD {
        return plain(StatusCode::METHOD_NOT_ALLOWED, "Method Not Allowed");
    }
    if let (Some(avatars), Some(name)) = (&state.avatars, path.strip_prefix("/avatars/")) {
        return match avatars {
            AvatarFiles::Dir(dir) => statics::file(dir, name, true).await,
            AvatarFiles::Bucket(bucket) => bucket.serve(name).await,
        };
    }
    match &state.static_dir {
        Some(dir) => statics::file(dir, path.trim_start_matches('/'), false).await,
        None => plain(StatusCode::NOT_FOUND, "Not Found"),
    }
}

async fn api<S: Store, M: SmsSender, A: AvatarStore, L: Limiter>(
    app: &App<S, M, A, L>,
    route: Route,
    params: Vec<(String, String)>,
    req: http::Request<Incoming>,
    body_timeout: Duration,
    peer: Option<IpAddr>,
) -> Response<Full<Bytes>> {
    let (parts, body) = req.into_parts();
    // hyper takes the hint from Content-Length: a body declared too large is refused unread.
    if body.size_hint().lower() > MAX_BODY as u64 {
        return closing(plain(StatusCode::PAYLOAD_TOO_LARGE, "Request Entity Too Large"));
    }
    let bytes = match tokio::time::timeout(body_timeout, Limited::new(body, MAX_BODY).collect()).await {
        Ok(Ok(collected)) => collected.to_bytes(),
        Ok(Err(e)) if e.is::<http_body_util::LengthLimitError>() => {
            return closing(plain(StatusCode::PAYLOAD_TOO_LARGE, "Request Entity Too Large"));
        }
        Ok(Err(_)) => return closing(plain(StatusCode::BAD_REQUEST, "Bad Request")),
        Err(_) => return closing(plain(StatusCode::REQUEST_TIMEOUT, "Request Timeout")),
    };
    let body = if bytes.is_empty() { lambda_http::Body::Empty } else { lambda_http::Body::Binary(bytes.to_vec()) };
    // API Gateway hands path parameters decoded, and the query as parsed parameters.
    let path_params: HashMap<String, String> = params.into_iter().map(|(k, v)| (k, percent_decode(&v))).collect();
    let query: QueryMap = parts.uri.query().unwrap_or_default().parse().unwrap_or_default();
    let request = lambda_http::Request::from_parts(parts, body)
        .with_path_parameters(QueryMap::from(path_params))
        .with_query_string_parameters(query)
        .with_request_context(request_context(peer));
    let resp = crate::routes::handle(route, app, request).await;
    resp.map(|b| Full::new(Bytes::copy_from_slice(b.as_ref())))
}

/// What API Gateway would say of the caller: here, only its address (the socket peer).
fn request_context(peer: Option<IpAddr>) -> RequestContext {
    let mut ctx = ApiGatewayV2httpRequestContext::default();
    ctx.http.source_ip = peer.map(|ip| ip.to_string());
    RequestContext::ApiGatewayV2(ctx)
}

fn percent_decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s).decode_utf8().map(|c| c.into_owned()).unwrap_or_else(|_| s.to_owned())
}
