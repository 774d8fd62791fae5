//! A small AWS Lambda runtime API, to run the real function binaries as Lambda runs them.
//!
//! Lambda starts `bootstrap` with `AWS_LAMBDA_RUNTIME_API=host:port`; the runtime inside the
//! binary long-polls `GET /2018-06-01/runtime/invocation/next` for an event and posts the answer
//! to `/invocation/{id}/response` (or `/error`; `/init/error` when its start-up fails). This
//! server plays Lambda's side of that protocol for one function process: [`RuntimeApi::invoke`]
//! queues an event and waits for the function's answer. See
//! <https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html>.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::Path;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::net::TcpListener;
use tokio::process::{Child, Command};
use tokio::sync::{mpsc, oneshot};

const PREFIX: &str = "/2018-06-01/runtime";

/// What the function answered to one invocation.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// `POST /invocation/{id}/response`: the handler's result (for lambda_http, the API Gateway
    /// response object).
    Response(serde_json::Value),
    /// `POST /invocation/{id}/error`: the handler failed.
    Error(String),
    /// `POST /init/error`: the function could not start (bad configuration, say).
    InitError(String),
}

struct Pending {
    id: String,
    event: Bytes,
    answer: oneshot::Sender<Outcome>,
}

#[derive(Default)]
struct State {
    /// Invocations handed to the function, waiting for its answer.
    in_flight: HashMap<String, oneshot::Sender<Outcome>>,
    /// Set once the function reported an init error: every invocation fails with it.
    init_error: Option<String>,
}

struct Shared {
    /// Told each time the function asks for its next event: the first time ends its init.
    polled: tokio::sync::Notify,
    polls: std::sync::atomic::AtomicU64,
    queue: tokio::sync::Mutex<mpsc::Receiver<Pending>>,
    state: Mutex<State>,
    function_name: String,
}

/// Lambda's side of the runtime API for one function, on a free 127.0.0.1 port.
pub struct RuntimeApi {
    addr: SocketAddr,
    queue: mpsc::Sender<Pending>,
    shared: Arc<Shared>,
    server: tokio::task::JoinHandle<()>,
    seq: std::sync::atomic::AtomicU64,
}

impl RuntimeApi {
    pub async fn start(function_name: &str) -> std::io::Result<RuntimeApi> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let (tx, rx) = mpsc::channel(16);
        let shared = Arc::new(Shared {
            polled: tokio::sync::Notify::new(),
            polls: Default::default(),
            queue: tokio::sync::Mutex::new(rx),
            state: Mutex::new(State::default()),
            function_name: function_name.to_owned(),
        });
        let server_shared = shared.clone();
        let server = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let shared = server_shared.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |req| route(shared.clone(), req));
                    // Errors here are a client hanging up (the function exiting): nothing to do.
                    let _ = http1::Builder::new().serve_connection(TokioIo::new(stream), service).await;
                });
            }
        });
        Ok(RuntimeApi { addr, queue: tx, shared, server, seq: Default::default() })
    }

    /// `host:port`, the value of `AWS_LAMBDA_RUNTIME_API`.
    pub fn address(&self) -> String {
        self.addr.to_string()
    }

    /// Hands `event` to the function and waits up to `timeout` for its answer.
    pub async fn invoke(&self, event: &serde_json::Value, timeout: Duration) -> Result<Outcome, String> {
        if let Some(e) = self.init_error() {
            return Ok(Outcome::InitError(e));
        }
        let n = self.seq.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let id = format!("{:08x}-replay-{n:04}", std::process::id());
        let (answer, rx) = oneshot::channel();
        let event = Bytes::from(serde_json::to_vec(event).map_err(|e| e.to_string())?);
        self.queue
            .send(Pending { id: id.clone(), event, answer })
            .await
            .map_err(|_| "runtime API stopped".to_owned())?;
        match tokio::time::timeout(timeout, rx).await {
            Ok(Ok(outcome)) => Ok(outcome),
            Ok(Err(_)) => Err(format!("invocation {id} was dropped")),
            Err(_) => {
                Err(format!("no answer to invocation {id} within {timeout:?} (the function did not call /response)"))
            }
        }
    }

    /// Waits until the function has asked for its first event, i.e. finished its init.
    pub async fn wait_for_init(&self, timeout: Duration) -> Result<(), String> {
        let polled = async {
            loop {
                let notified = self.shared.polled.notified();
                if self.shared.polls.load(std::sync::atomic::Ordering::SeqCst) > 0 {
                    return;
                }
                notified.await;
            }
        };
        tokio::time::timeout(timeout, polled).await.map_err(|_| format!("no GET /next within {timeout:?}"))
    }

    /// The function's init error, if it reported one.
    pub fn init_error(&self) -> Option<String> {
        self.shared.state.lock().ok().and_then(|s| s.init_error.clone())
    }
}

impl Drop for RuntimeApi {
    fn drop(&mut self) {
        self.server.abort();
    }
}

fn reply(status: StatusCode, body: impl Into<Bytes>) -> Response<Full<Bytes>> {
    let mut resp = Response::new(Full::new(body.into()));
    *resp.status_mut() = status;
    resp
}

async fn route(shared: Arc<Shared>, req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let path = req.uri().path().to_owned();
    let method = req.method().clone();
    let Some(rest) = path.strip_prefix(PREFIX) else {
        return Ok(reply(StatusCode::NOT_FOUND, "unknown path"));
    };
    if method == Method::GET && rest == "/invocation/next" {
        return Ok(next(&shared).await);
    }
    if method != Method::POST {
        return Ok(reply(StatusCode::METHOD_NOT_ALLOWED, "method not allowed"));
    }
    let body = match req.into_body().collect().await {
        Ok(b) => b.to_bytes(),
        Err(e) => return Ok(reply(StatusCode::BAD_REQUEST, e.to_string())),
    };
    let text = String::from_utf8_lossy(&body).into_owned();
    if rest == "/init/error" {
        let mut state = match shared.state.lock() {
            Ok(s) => s,
            Err(_) => return Ok(reply(StatusCode::INTERNAL_SERVER_ERROR, "poisoned")),
        };
        state.init_error = Some(text.clone());
        for (_, waiter) in state.in_flight.drain() {
            let _ = waiter.send(Outcome::InitError(text.clone()));
        }
        return Ok(reply(StatusCode::ACCEPTED, r#"{"status":"OK"}"#));
    }
    let Some(tail) = rest.strip_prefix("/invocation/") else {
        return Ok(reply(StatusCode::NOT_FOUND, "unknown path"));
    };
    let (id, outcome) = if let Some(id) = tail.strip_suffix("/response") {
        match serde_json::from_slice(&body) {
            Ok(v) => (id, Outcome::Response(v)),
            Err(e) => (id, Outcome::Error(format!("response is not JSON ({e}): {text}"))),
        }
    } else if let Some(id) = tail.strip_suffix("/error") {
        (id, Outcome::Error(text))
    } else {
        return Ok(reply(StatusCode::NOT_FOUND, "unknown path"));
    };
    let waiter = shared.state.lock().ok().and_then(|mut s| s.in_flight.remove(id));
    match waiter {
        Some(w) => {
            let _ = w.send(outcome);
            Ok(reply(StatusCode::ACCEPTED, r#"{"status":"OK"}"#))
        }
        None => Ok(reply(StatusCode::BAD_REQUEST, "unknown request id")),
    }
}

/// Long poll: blocks until an event is queued, then hands it over with Lambda's headers.
async fn next(shared: &Shared) -> Response<Full<Bytes>> {
    shared.polls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    shared.polled.notify_waiters();
    let pending = shared.queue.lock().await.recv().await;
    let Some(p) = pending else {
        return reply(StatusCode::GONE, "runtime API stopped");
    };
    if let Ok(mut s) = shared.state.lock() {
        s.in_flight.insert(p.id.clone(), p.answer);
    }
    let deadline = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() + 30_000)
        .unwrap_or_default();
    let mut resp = reply(StatusCode::OK, p.event);
    let h = resp.headers_mut();
    let arn = format!("arn:aws:lambda:us-east-1:123456789012:function:{}", shared.function_name);
    for (k, v) in [
        ("content-type", "application/json".to_owned()),
        ("lambda-runtime-aws-request-id", p.id.clone()),
        ("lambda-runtime-deadline-ms", deadline.to_string()),
        ("lambda-runtime-invoked-function-arn", arn),
        (
            "lambda-runtime-trace-id",
            "Root=1-67a1c2d3-5f0e4b6a8c9d0e1f2a3b4c5d;Parent=53995c3f42cd8ad8;Sampled=0".to_owned(),
        ),
    ] {
        if let Ok(v) = v.parse() {
            h.insert(k, v);
        }
    }
    resp
}

/// A function binary running under a [`RuntimeApi`], its output collected line by line.
pub struct FunctionProcess {
    child: Child,
    pub api: RuntimeApi,
    lines: Arc<Mutex<Vec<String>>>,
}

impl FunctionProcess {
    /// Starts `program args…` as Lambda starts `bootstrap`: a clean environment holding only
    /// Lambda's variables, the function's configuration `env`, and `AWS_LAMBDA_RUNTIME_API`.
    pub async fn spawn(
        function_name: &str,
        program: &Path,
        args: &[String],
        env: &[(String, String)],
    ) -> std::io::Result<FunctionProcess> {
        let api = RuntimeApi::start(function_name).await?;
        let mut cmd = Command::new(program);
        cmd.args(args)
            .env_clear()
            .env("AWS_LAMBDA_RUNTIME_API", api.address())
            .env("AWS_LAMBDA_FUNCTION_NAME", function_name)
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
            .env("AWS_LAMBDA_LOG_GROUP_NAME", format!("/aws/lambda/{function_name}"))
            .env("AWS_LAMBDA_LOG_STREAM_NAME", "2026/11/26/[$LATEST]replay")
            .env("AWS_EXECUTION_ENV", "AWS_Lambda_provided.al2023")
            .env("_HANDLER", "bootstrap")
            .env("TZ", ":UTC")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn()?;
        let lines = Arc::new(Mutex::new(Vec::new()));
        if let Some(out) = child.stdout.take() {
            collect(out, lines.clone());
        }
        if let Some(err) = child.stderr.take() {
            collect(err, lines.clone());
        }
        Ok(FunctionProcess { child, api, lines })
    }

    /// Invokes the function with `event`; an exit before it answers is an error, with its output.
    pub async fn invoke(&mut self, event: &serde_json::Value, timeout: Duration) -> Result<Outcome, String> {
        tokio::select! {
            outcome = self.api.invoke(event, timeout) => outcome,
            status = self.child.wait() => {
                tokio::time::sleep(Duration::from_millis(50)).await;
                Err(format!(
                    "the function exited ({}) before answering; its output:\n{}",
                    status.map(|s| s.to_string()).unwrap_or_else(|e| e.to_string()),
                    self.output().join("\n")
                ))
            }
        }
    }

    /// Everything the function printed so far (its logs), one entry per line.
    pub fn output(&self) -> Vec<String> {
        self.lines.lock().map(|l| l.clone()).unwrap_or_default()
    }

    /// Whether the process is still running (`None`) or how it exited.
    pub fn exit_status(&mut self) -> Option<std::process::ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    pub async fn stop(mut self) -> Vec<String> {
        let _ = self.child.kill().await;
        // Give the readers a moment to drain what was written before the kill.
        tokio::time::sleep(Duration::from_millis(50)).await;
        self.output()
    }
}

fn collect(stream: impl AsyncRead + Unpin + Send + 'static, into: Arc<Mutex<Vec<String>>>) {
    tokio::spawn(async move {
        let mut lines = BufReader::new(stream).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            if let Ok(mut v) = into.lock() {
                v.push(line);
            }
        }
    });
}
