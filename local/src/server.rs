//! HTTP on 127.0.0.1: each request becomes the `lambda_http::Request` API Gateway would hand the
//! function (path and query parameters included), and the route's own handler answers it.

use std::collections::HashMap;
use std::convert::Infallible;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{Response, StatusCode, header};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use hyper_util::server::graceful::GracefulShutdown;
use ihome::avatars::AvatarStore;
use ihome::sms::SmsSender;
use ihome::store::Store;
use ihome::{App, Route};
use lambda_http::RequestExt;
use lambda_http::aws_lambda_events::query_map::QueryMap;

use crate::outbox::console_line;
use crate::statics;

/// Lambda's synchronous payload limit: API Gateway could not hand a function more.
const MAX_BODY: usize = 6 * 1024 * 1024;

pub struct State<S, M, A> {
    pub app: App<S, M, A>,
    /// Where avatars are files the server itself serves (embedded mode).
    pub avatar_dir: Option<PathBuf>,
    pub static_dir: Option<PathBuf>,
}

/// Serves until Ctrl-C or SIGTERM, then lets requests in flight finish (up to 10 s).
pub async fn serve<S, M, A>(listener: tokio::net::TcpListener, state: Arc<State<S, M, A>>)
where
    S: Store + 'static,
    M: SmsSender + 'static,
    A: AvatarStore + 'static,
{
    let graceful = GracefulShutdown::new();
    let shutdown = shutdown_signal();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                let state = state.clone();
                let service = service_fn(move |req| {
                    let state = state.clone();
                    async move { Ok::<_, Infallible>(handle(&state, req).await) }
                });
                let conn = http1::Builder::new().serve_connection(TokioIo::new(stream), service);
                let conn = graceful.watch(conn);
                tokio::spawn(async move {
                    if let Err(e) = conn.await {
                        tracing::debug!(error = %e, "connection ended with an error");
                    }
                });
            }
            () = &mut shutdown => break,
        }
    }
    drop(listener);
    console_line("ihome-local: shutting down, finishing requests in flight");
    if tokio::time::timeout(Duration::from_secs(10), graceful.shutdown()).await.is_err() {
        eprintln!("ihome-local: some connections did not finish within 10 s");
    }
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

fn plain(status: StatusCode, message: &str) -> Response<Full<Bytes>> {
    let body = format!("{{\"message\":\"{message}\"}}");
    let mut resp = Response::new(Full::new(Bytes::from(body)));
    *resp.status_mut() = status;
    resp.headers_mut().insert(header::CONTENT_TYPE, http::HeaderValue::from_static("application/json"));
    resp
}

async fn handle<S: Store, M: SmsSender, A: AvatarStore>(
    state: &State<S, M, A>,
    req: http::Request<Incoming>,
) -> Response<Full<Bytes>> {
    let path = req.uri().path().to_owned();
    if let Some((route, params)) = Route::resolve(req.method().as_str(), &path) {
        return api(&state.app, route, params, req).await;
    }
    // As API Gateway: anything under the API's base path that no route matches is a 404.
    if path.starts_with("/api/") {
        return plain(StatusCode::NOT_FOUND, "Not Found");
    }
    if req.method() != http::Method::GET && req.method() != http::Method::HEAD {
        return plain(StatusCode::METHOD_NOT_ALLOWED, "Method Not Allowed");
    }
    if let (Some(dir), Some(name)) = (&state.avatar_dir, path.strip_prefix("/avatars/")) {
        return statics::file(dir, name, true).await;
    }
    match &state.static_dir {
        Some(dir) => statics::file(dir, path.trim_start_matches('/'), false).await,
        None => plain(StatusCode::NOT_FOUND, "Not Found"),
    }
}

async fn api<S: Store, M: SmsSender, A: AvatarStore>(
    app: &App<S, M, A>,
    route: Route,
    params: Vec<(String, String)>,
    req: http::Request<Incoming>,
) -> Response<Full<Bytes>> {
    let (parts, body) = req.into_parts();
    let bytes = match Limited::new(body, MAX_BODY).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => {
            return plain(StatusCode::PAYLOAD_TOO_LARGE, "Request Entity Too Large");
        }
        Err(_) => return plain(StatusCode::BAD_REQUEST, "Bad Request"),
    };
    let body = if bytes.is_empty() { lambda_http::Body::Empty } else { lambda_http::Body::Binary(bytes.to_vec()) };
    // API Gateway hands path parameters decoded, and the query as parsed parameters.
    let path_params: HashMap<String, String> = params.into_iter().map(|(k, v)| (k, percent_decode(&v))).collect();
    let query: QueryMap = parts.uri.query().unwrap_or_default().parse().unwrap_or_default();
    let request = lambda_http::Request::from_parts(parts, body)
        .with_path_parameters(QueryMap::from(path_params))
        .with_query_string_parameters(query);
    let resp = crate::routes::handle(route, app, request).await;
    resp.map(|b| Full::new(Bytes::copy_from_slice(b.as_ref())))
}

fn percent_decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s).decode_utf8().map(|c| c.into_owned()).unwrap_or_else(|_| s.to_owned())
}
