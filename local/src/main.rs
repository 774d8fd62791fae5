//! `ihome-local`: every route of the API on 127.0.0.1, served by the very handlers the Lambda
//! functions run, routed as template.yaml routes them. Embedded storage by default (one redb file,
//! console SMS, avatars in a folder); DynamoDB, SNS and S3 when the AWS SDK's endpoint settings
//! (`AWS_ENDPOINT_URL…`) or `--aws` say so.

/// `println!` that never panics: a closed stdout must not take the server down.
macro_rules! console {
    ($($arg:tt)*) => {
        ihome_local::outbox::console_line(&format!($($arg)*))
    };
}

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser;
use ihome::cache::CacheEndpoint;
use ihome_local::backends::{self, Backend};
use ihome_local::purge::{self, PurgeConfig};
use ihome_local::server::{self, ServerConfig, State};

#[derive(Parser, Debug)]
#[command(name = "ihome-local", version, about = "The iHome user API on localhost (no AWS account, no Docker)")]
struct Args {
    /// Port to listen on (127.0.0.1 only).
    #[arg(long, default_value_t = 8000)]
    port: u16,
    /// Folder of an existing iHome frontend to serve from the same origin, so its cookies work.
    #[arg(long = "static", value_name = "DIR")]
    static_dir: Option<PathBuf>,
    /// Where the embedded store, the SMS outbox and avatars live.
    #[arg(long, value_name = "DIR", default_value = ".ihome-local")]
    data: PathBuf,
    /// Use DynamoDB, SNS and S3 (through the SDK's standard settings) instead of the embedded
    /// defaults. Implied when an `AWS_ENDPOINT_URL…` variable is set.
    #[arg(long)]
    aws: bool,
    /// Count the abuse budgets in this Redis (or Valkey) instead of the store: `redis://host:port`,
    /// `rediss://…` for TLS, or `host:port` (TLS). Default: `IHOME_CACHE_ENDPOINT`, else the store.
    #[arg(long, value_name = "URL", value_parser = parse_redis)]
    redis: Option<CacheEndpoint>,
}

fn parse_redis(s: &str) -> Result<CacheEndpoint, String> {
    CacheEndpoint::parse(s).map_err(str::to_owned)
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_target(false)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    match run(args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("ihome-local: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> Result<(), String> {
    let addr = SocketAddr::from(([127, 0, 0, 1], args.port));
    // Bind first: a port in use is the most common failure and should say so plainly.
    let listener = tokio::net::TcpListener::bind(addr).await.map_err(|e| match e.kind() {
        std::io::ErrorKind::AddrInUse => {
            format!("port {} is already in use on 127.0.0.1; choose another with --port", args.port)
        }
        _ => format!("cannot listen on {addr}: {e}"),
    })?;
    let base = format!("http://{addr}");
    let use_aws = args.aws || backends::aws_endpoint_configured();
    let chosen = if use_aws {
        backends::aws(&base, args.redis).await?
    } else {
        backends::embedded(&args.data, &base, args.redis)?
    };
    if let Some(dir) = &args.static_dir
        && !dir.is_dir()
    {
        return Err(format!("--static {}: not a directory", dir.display()));
    }

    console!("iHome API listening on {base}/api/v1.0  (Ctrl-C to stop)");
    for line in &chosen.describe {
        console!("  {line}");
    }
    match &args.static_dir {
        Some(dir) => console!("  static files: {} at {base}/", dir.display()),
        None => console!("  static files: none (add --static DIR to serve an iHome frontend)"),
    }

    let (static_dir, avatars) = (args.static_dir, Some(chosen.avatars));
    match chosen.backend {
        Backend::Embedded(app) => {
            // redb has no TTL: this task deletes what DynamoDB's would.
            let purge = purge::spawn(app.store.clone(), app.clock.clone(), PurgeConfig::default());
            server::serve(listener, Arc::new(State { app, avatars, static_dir }), ServerConfig::default()).await;
            purge.abort();
        }
        Backend::Aws(app) => {
            server::serve(listener, Arc::new(State { app, avatars, static_dir }), ServerConfig::default()).await
        }
    }
    console!("ihome-local: stopped");
    Ok(())
}
