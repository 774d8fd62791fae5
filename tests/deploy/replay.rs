//! Every file in events/ goes through the release binary that `sam build` made for its function,
//! run as Lambda runs it: a clean environment holding the template's configuration (parameters at
//! their defaults, this run's table and bucket in moto), under a Lambda runtime API
//! (`ihome_tests::runtime_api`). On a machine that is not arm64 the binaries run under qemu's user
//! mode, so what is checked is exactly what `sam deploy` would upload.
//!
//! Before each event the test seeds what a real user would have done first (the captcha the SMS
//! request answers, the SMS code a registration uses, the account a login names, the session a
//! cookie carries), so each `<function>.json` gets its success answer. Every `<function>.<case>.json`
//! needs an expectation here: a new event file without one fails the test.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use base64::Engine;
use ihome::domain::{ImageCodeId, ImageCodeText, Mobile, Password, SessionToken, SmsCode, SmsPurpose, UserId};
use ihome::store::{DynamoStore, NewSession, NewUser, Store};
use ihome_tests::runtime_api::{FunctionProcess, Outcome};
use serde_json::Value;

use crate::files::{self, EventFile, Resolver};

/// The CloudFront domain the replay pretends the stack got.
const AVATAR_DOMAIN: &str = "d1ihomeavatar5.cloudfront.net";
const INVOKE_TIMEOUT: Duration = Duration::from_secs(60);

fn now() -> i64 {
    SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or_default()
}

/// Function name → its `sam build` artifact, checked to be newer than every source file.
pub(crate) fn artifacts(template: &Value) -> BTreeMap<String, PathBuf> {
    let root = files::root();
    let newest_source = newest_mtime(&[
        root.join("shared"),
        root.join("functions"),
        root.join("vendor"),
        root.join("Cargo.toml"),
        root.join("Cargo.lock"),
    ]);
    let mut out = BTreeMap::new();
    let mut problems = Vec::new();
    for (id, f) in files::functions(template) {
        let Some(name) = files::binary(&f) else { continue };
        if !root.join("functions").join(name).is_dir() {
            continue; // no crate yet: the drift test says so
        }
        let path = root.join(".aws-sam/build").join(&id).join("bootstrap");
        match std::fs::metadata(&path).and_then(|m| m.modified()) {
            Err(e) => problems.push(format!("{}: {e}", path.display())),
            Ok(built) if built < newest_source => {
                problems.push(format!("{} is older than the sources", path.display()))
            }
            Ok(_) => {
                out.insert(name.to_owned(), path);
            }
        }
    }
    assert!(
        problems.is_empty(),
        "sam build's artifacts are missing or stale (run scripts/deploy-check.sh, which builds them):\n  {}",
        problems.join("\n  ")
    );
    out
}

fn newest_mtime(paths: &[PathBuf]) -> SystemTime {
    let mut newest = SystemTime::UNIX_EPOCH;
    let mut stack: Vec<PathBuf> = paths.to_vec();
    while let Some(p) = stack.pop() {
        let Ok(meta) = std::fs::metadata(&p) else { continue };
        if meta.is_dir() {
            if p.file_name().is_some_and(|n| n == "target") {
                continue;
            }
            if let Ok(rd) = std::fs::read_dir(&p) {
                stack.extend(rd.filter_map(Result::ok).map(|e| e.path()));
            }
        } else if let Ok(m) = meta.modified() {
            newest = newest.max(m);
        }
    }
    newest
}

/// Starts `function`'s `sam build` artifact with `env`, under qemu where this is not arm64.
pub(crate) async fn spawn_artifact(function: &str, env: &[(String, String)]) -> FunctionProcess {
    let artifacts = artifacts(&files::template());
    let artifact = artifacts.get(function).unwrap_or_else(|| panic!("{function}'s sam build artifact"));
    let (program, prefix) = runner();
    let (prog, args) = match &program {
        Some(q) => (q.clone(), [prefix, vec![artifact.display().to_string()]].concat()),
        None => (artifact.clone(), vec![]),
    };
    FunctionProcess::spawn(function, &prog, &args, env).await.unwrap_or_else(|e| panic!("start {function}: {e}"))
}

/// How to run an arm64 binary here: directly on arm64, else through qemu's user mode with the
/// arm64 C runtime (both installed by scripts/deploy-check.sh).
pub(crate) fn runner() -> (Option<PathBuf>, Vec<String>) {
    if cfg!(target_arch = "aarch64") {
        return (None, vec![]);
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    let qemu = ["qemu-aarch64-static", "qemu-aarch64"]
        .iter()
        .flat_map(|name| std::env::split_paths(&path).map(move |dir| dir.join(name)))
        .find(|p| p.is_file())
        .expect("qemu-aarch64(-static) is not on PATH: scripts/deploy-check.sh installs it");
    let sysroot = std::env::var("IHOME_QEMU_LD_PREFIX").unwrap_or_else(|_| "/usr/aarch64-linux-gnu".to_owned());
    assert!(
        Path::new(&sysroot).join("lib").is_dir(),
        "{sysroot}/lib is missing: scripts/deploy-check.sh installs libc6-arm64-cross"
    );
    (Some(qemu), vec!["-L".to_owned(), sysroot])
}

/// What this run's stack is made of, for the checks.
struct Ctx {
    endpoint: String,
    bucket: String,
    base_url: String,
    /// The user every logged-in event's token names.
    demo_users: BTreeSet<u64>,
    http: reqwest::Client,
    s3: aws_sdk_s3::Client,
}

/// The session tokens an event carries (cookie or bearer).
fn tokens(ev: &Value) -> Vec<String> {
    let mut out: Vec<String> = ev["cookies"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| c.as_str()?.strip_prefix("session=").map(str::to_owned))
        .collect();
    if let Some(b) = ev["headers"]["authorization"].as_str().and_then(|h| h.strip_prefix("Bearer ")) {
        out.push(b.to_owned());
    }
    out
}

fn body_json(ev: &Value) -> Value {
    ev["body"].as_str().and_then(|b| serde_json::from_str(b).ok()).unwrap_or(Value::Null)
}

fn must<T, E: std::fmt::Debug>(r: Result<T, E>, what: &str) -> T {
    r.unwrap_or_else(|e| panic!("seeding {what}: {e:?}"))
}

/// The mobile of the demo user behind an event's session token.
fn demo_mobile(id: UserId) -> Mobile {
    Mobile::parse(&format!("136{:08}", id.get() % 100_000_000)).unwrap_or_else(|| panic!("demo mobile of {id:?}"))
}

/// An account, created as register creates one (consuming an SMS code) with a first session.
async fn seed_user(store: &DynamoStore, id: UserId, mobile: &str, password: &str, session: &SessionToken) {
    let mobile = Mobile::parse(mobile).unwrap_or_else(|| panic!("seed mobile {mobile}"));
    let code = SmsCode::generate();
    let t = now();
    must(store.reserve_sms(&mobile, SmsPurpose::Register, &code, t, 300, 60).await, "an SMS code");
    let hash = must(Password::parse(password), "a password").hash(4);
    let user = NewUser { id, mobile, password_hash: must(hash, "a hash"), create_time: t };
    must(store.create_user(&user, &code, &NewSession::for_token(session, t + 3600)).await, "a user");
}

/// Puts in place what the event's request presumes a person did before it.
async fn seed_for(store: &DynamoStore, e: &EventFile, all: &[EventFile]) {
    let ev = &e.json;
    let t = now();
    // A logged-in request: its session is live (again, after a logout event), in the index of
    // its demo user, as a login with the user's password would add it.
    for token in tokens(ev) {
        if let Some(tok) = SessionToken::parse(&token) {
            let mobile = demo_mobile(tok.user_id());
            if let Some(c) = must(store.credentials(&mobile).await, "the demo user's credentials") {
                let session = NewSession::for_token(&tok, t + 3600);
                assert!(must(store.add_session(&mobile, &c.password_hash, &session, t).await, "a session"));
            }
        }
    }
    match e.function.as_str() {
        // The captcha the SMS request answers.
        "sms-code" => {
            let q = &ev["queryStringParameters"];
            if let (Some(id), Some(text)) = (q["id"].as_str(), q["text"].as_str())
                && let Some(id) = ImageCodeId::parse(id)
            {
                let text = ImageCodeText::from_stored(text.to_uppercase());
                must(store.put_image_code(&id, &text, t + 300).await, "a captcha");
            }
        }
        // The SMS code the registration quotes.
        "register" => {
            let b = body_json(ev);
            if let (Some(m), Some(c)) = (b["mobile"].as_str(), b["sms_code"].as_str())
                && let (Some(m), Some(c)) = (Mobile::parse(m), SmsCode::parse(c))
            {
                must(store.reserve_sms(&m, SmsPurpose::Register, &c, t, 300, 60).await, "an SMS code");
            }
        }
        // The reset code the reset quotes, for an account of that mobile.
        "reset-password" => {
            let b = body_json(ev);
            if let (Some(m), Some(c)) = (b["mobile"].as_str(), b["sms_code"].as_str())
                && let (Some(mobile), Some(c)) = (Mobile::parse(m), SmsCode::parse(c))
            {
                if !must(store.mobile_registered(&mobile).await, "a lookup") {
                    seed_user(store, UserId::random(), m, "demo-password-1", &SessionToken::generate(UserId::random()))
                        .await;
                }
                must(store.reserve_sms(&mobile, SmsPurpose::Reset, &c, t, 300, 60).await, "a reset code");
            }
        }
        // The account the login names, with the password of the success event (login.json).
        "login" => {
            let ok = all
                .iter()
                .find(|x| x.function == "login" && x.case.is_none())
                .map(|x| body_json(&x.json))
                .unwrap_or(Value::Null);
            if let (Some(m), Some(p)) = (ok["mobile"].as_str(), ok["password"].as_str()) {
                let mobile = Mobile::parse(m).expect("login.json's mobile");
                if !must(store.mobile_registered(&mobile).await, "a lookup") {
                    let tok = SessionToken::generate(UserId::random());
                    seed_user(store, UserId::random(), m, p, &tok).await;
                }
            }
        }
        _ => {}
    }
}

/// What an event must get back: its errno, and for the success events what the route promises.
fn expectation(e: &EventFile) -> Result<(&'static str, Option<&'static str>), String> {
    Ok(match (e.function.as_str(), e.case.as_deref()) {
        ("image-code", None) => ("png", None),
        ("image-code", Some("bad-id")) => ("4103", None),
        ("sms-code", None) => ("0", Some("发送成功")),
        ("sms-code", Some("bad-mobile")) => ("4103", Some("手机号格式错误")),
        // A reset code for a demo user's mobile (136…): sent, as to any account's mobile.
        ("sms-code", Some("reset")) => ("0", Some("发送成功")),
        ("login", Some("wrong-password")) => ("4004", Some("用户名或密码错误")),
        ("get-user", Some("bearer")) => ("0", None),
        ("logout", Some("sessions-alias")) => ("0", None),
        ("get-session", Some("logged-out")) => ("4101", None),
        (_, None) => ("0", None),
        (f, Some(c)) => {
            return Err(format!("events/{f}.{c}.json has no expectation: add it to tests/deploy/replay.rs"));
        }
    })
}

fn header<'a>(resp: &'a Value, name: &str) -> &'a str {
    resp["headers"]
        .as_object()
        .and_then(|h| h.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)))
        .and_then(|(_, v)| v.as_str())
        .unwrap_or("")
}

/// The session cookie the response sets, as attribute list (lower-cased names).
fn session_cookie(resp: &Value) -> Option<(String, BTreeMap<String, String>)> {
    let cookie = resp["cookies"].as_array()?.iter().filter_map(Value::as_str).find(|c| c.starts_with("session="))?;
    let mut parts = cookie.split(';').map(str::trim);
    let value = parts.next()?.strip_prefix("session=")?.to_owned();
    let attrs = parts
        .map(|a| {
            let (k, v) = a.split_once('=').unwrap_or((a, ""));
            (k.to_ascii_lowercase(), v.to_owned())
        })
        .collect();
    Some((value, attrs))
}

fn check_cookie(resp: &Value, max_age: &str) -> Result<(), String> {
    let (value, attrs) = session_cookie(resp).ok_or("no session cookie in the response's cookies")?;
    let want = [("path", "/"), ("httponly", ""), ("secure", ""), ("samesite", "Lax"), ("max-age", max_age)];
    for (k, v) in want {
        if attrs.get(k).map(String::as_str) != Some(v) {
            return Err(format!("session cookie lacks {k}={v}: {attrs:?}"));
        }
    }
    if max_age != "0" && SessionToken::parse(&value).is_none() {
        return Err("the session cookie holds no well-formed token".into());
    }
    Ok(())
}

/// Checks one answer; `Ok` carries a one-line summary.
async fn check(ctx: &Ctx, e: &EventFile, resp: &Value) -> Result<String, String> {
    let (errno, errmsg) = expectation(e)?;
    if resp["statusCode"] != 200 {
        return Err(format!("statusCode {} (want 200)", resp["statusCode"]));
    }
    if errno == "png" {
        if resp["isBase64Encoded"] != true {
            return Err("the captcha is not base64-encoded".into());
        }
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(resp["body"].as_str().unwrap_or(""))
            .map_err(|e| format!("body is not base64: {e}"))?;
        if !bytes.starts_with(b"\x89PNG\r\n\x1a\n") || header(resp, "content-type") != "image/png" {
            return Err(format!("not a PNG (content-type {:?})", header(resp, "content-type")));
        }
        if !header(resp, "cache-control").contains("no-store") {
            return Err("the captcha is cacheable".into());
        }
        let img = image::load_from_memory(&bytes).map_err(|e| format!("PNG does not decode: {e}"))?;
        return Ok(format!("PNG {}x{}, {} bytes", img.width(), img.height(), bytes.len()));
    }
    if !header(resp, "content-type").starts_with("application/json") {
        return Err(format!("content-type {:?}", header(resp, "content-type")));
    }
    if resp["isBase64Encoded"] == true {
        return Err("a JSON answer came base64-encoded".into());
    }
    let body: Value = serde_json::from_str(resp["body"].as_str().unwrap_or(""))
        .map_err(|err| format!("body is not JSON: {err}: {}", resp["body"]))?;
    let (Some(got), Some(msg)) = (body["errno"].as_str(), body["errmsg"].as_str()) else {
        return Err(format!("not an envelope (errno and errmsg strings): {body}"));
    };
    if got != errno || errmsg.is_some_and(|m| m != msg) {
        return Err(format!("errno {got} {msg:?}, want {errno} {}", errmsg.unwrap_or("")));
    }
    let data = &body["data"];
    let demo = |d: &Value| d["user_id"].as_u64().is_some_and(|id| ctx.demo_users.contains(&id));
    if errno == "0" {
        match e.function.as_str() {
            "register" => {
                check_cookie(resp, "86400")?;
                let sent = body_json(&e.json);
                if data["mobile"] != sent["mobile"] || !data["user_id"].is_u64() {
                    return Err(format!("data is not the new user: {data}"));
                }
            }
            "login" => {
                check_cookie(resp, "86400")?;
                if !data["user_id"].is_u64() {
                    return Err(format!("data has no user_id: {data}"));
                }
            }
            // Each of these ends the caller's session: the cookie goes.
            "logout" | "logout-all" | "reset-password" | "delete-user" => check_cookie(resp, "0")?,
            "get-user" | "get-session" | "get-auth" if !demo(data) => {
                return Err(format!("data is not the session's user: {data}"));
            }
            "get-auth" if data["id_card"].as_str().is_some_and(|c| !c.contains('*')) => {
                return Err(format!("the ID number came back whole: {data}"));
            }
            "set-name" => {
                let sent = body_json(&e.json);
                if data["name"] != sent["name"] {
                    return Err(format!("data.name {} is not the name sent", data["name"]));
                }
            }
            "sms-code" => {
                let mobile = e.json["pathParameters"]["mobile"].as_str().unwrap_or("");
                if !sms_sent(ctx, mobile).await {
                    return Err(format!("moto recorded no SMS to +86{mobile}"));
                }
            }
            "upload-avatar" => {
                let url = data["avatar_url"].as_str().unwrap_or("");
                let key = url
                    .strip_prefix(&ctx.base_url)
                    .ok_or_else(|| format!("avatar_url {url:?} is not under {}", ctx.base_url))?;
                let stored =
                    ctx.s3.get_object().bucket(&ctx.bucket).key(key).send().await.map_err(|e| {
                        format!("s3://{}/{key}: {}", ctx.bucket, aws_sdk_s3::error::DisplayErrorContext(e))
                    })?;
                let bytes = stored.body.collect().await.map_err(|e| e.to_string())?.into_bytes();
                if image::load_from_memory(&bytes).is_err() {
                    return Err(format!("s3://{}/{key} holds no image", ctx.bucket));
                }
            }
            _ => {}
        }
    }
    Ok(format!("errno {got} {msg}"))
}

async fn sms_sent(ctx: &Ctx, mobile: &str) -> bool {
    let Ok(resp) = ctx.http.get(format!("{}/moto-api/data.json", ctx.endpoint)).send().await else {
        return false;
    };
    let data: Value = resp.json().await.unwrap_or(Value::Null);
    let phone = format!("+86{mobile}");
    data["sns"]["SMS"].as_array().into_iter().flatten().any(|m| m["phone_number"] == phone.as_str())
}

/// The strings an event carries that must never reach a log.
fn secrets(ev: &Value) -> Vec<String> {
    let mut out: Vec<String> =
        tokens(ev).into_iter().filter_map(|t| t.split_once('.').map(|(_, s)| s.to_owned())).collect();
    let b = body_json(ev);
    for k in ["password", "password2", "old_password", "new_password", "sms_code", "id_card", "mobile"] {
        if let Some(v) = b[k].as_str() {
            out.push(v.to_owned());
        }
    }
    if let Some(m) = ev["pathParameters"]["mobile"].as_str().filter(|m| m.len() == 11) {
        out.push(m.to_owned());
    }
    if let Some(t) = ev["queryStringParameters"]["text"].as_str() {
        out.push(format!("\"{t}\""));
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_event_replays_through_the_sam_build_binaries_under_a_lambda_runtime_api() {
    let endpoint = ihome_tests::moto_endpoint();
    let template = files::template();
    let artifacts = artifacts(&template);
    let (program, prefix) = runner();
    let events = files::event_files();

    // This run's stack in moto: a table, a bucket, and the users the events' tokens name.
    let sdk = ihome_tests::sdk_config().await;
    let dynamo = aws_sdk_dynamodb::Client::new(&sdk);
    let table = ihome_tests::unique("replay");
    ihome_tests::create_table(&dynamo, &table).await;
    let bucket = ihome_tests::unique("avatars").to_lowercase();
    let s3 = aws_sdk_s3::Client::from_conf(aws_sdk_s3::config::Builder::from(&sdk).force_path_style(true).build());
    s3.create_bucket().bucket(&bucket).send().await.expect("create the avatar bucket in moto");
    let store = DynamoStore::new(dynamo.clone(), table.clone());
    let mut demo_users = BTreeSet::new();
    let mut seeded = BTreeSet::new();
    for e in &events {
        for t in tokens(&e.json) {
            let Some(tok) = SessionToken::parse(&t) else { continue };
            // One demo user per user id; its other tokens' sessions are added before their events.
            let id = tok.user_id().get();
            if seeded.insert(id) {
                let mobile = demo_mobile(tok.user_id());
                seed_user(&store, tok.user_id(), mobile.as_str(), "demo-password-1", &tok).await;
                demo_users.insert(id);
            }
        }
    }
    let base_url = format!("https://{AVATAR_DOMAIN}/");
    let ctx = Ctx {
        endpoint: endpoint.clone(),
        bucket: bucket.clone(),
        base_url,
        demo_users,
        http: reqwest::Client::new(),
        s3,
    };
    let resolver = Resolver {
        template: &template,
        resources: BTreeMap::from([
            ("Table", table.clone()),
            ("AvatarBucket", bucket.clone()),
            ("AvatarDistribution.DomainName", AVATAR_DOMAIN.to_owned()),
        ]),
    };

    let mut failures = Vec::new();
    let mut report = Vec::new();
    let functions = files::functions(&template);
    for (function, artifact) in &artifacts {
        let Some((_, f)) = functions.iter().find(|(_, f)| files::binary(f) == Some(function)) else {
            continue;
        };
        // The environment Lambda would give it: the template's variables, resolved.
        let mut env: Vec<(String, String)> = Vec::new();
        for vars in
            [&template["Globals"]["Function"]["Environment"]["Variables"], &f["Properties"]["Environment"]["Variables"]]
        {
            for (k, v) in vars.as_object().into_iter().flatten() {
                let v = resolver.resolve_optional(v).unwrap_or_else(|e| panic!("{function}: {k}: {e}"));
                env.retain(|(name, _)| name != k);
                // AWS::NoValue (the cache tier's variable with the tier off): no such variable.
                env.extend(v.map(|v| (k.clone(), v)));
            }
        }
        let logging = files::property(&template, f, "LoggingConfig");
        let global_logging = &template["Globals"]["Function"]["LoggingConfig"];
        let pick = |k: &str| logging[k].as_str().or(global_logging[k].as_str()).unwrap_or("").to_owned();
        env.push(("AWS_LAMBDA_LOG_FORMAT".into(), pick("LogFormat")));
        env.push(("AWS_LAMBDA_LOG_LEVEL".into(), pick("ApplicationLogLevel")));
        for k in ["AWS_REGION", "AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"] {
            env.push((k.into(), std::env::var(k).unwrap_or_else(|_| panic!("{k} is not set"))));
        }
        env.push(("AWS_DEFAULT_REGION".into(), std::env::var("AWS_REGION").unwrap_or_default()));
        let memory = files::property(&template, f, "MemorySize").to_string();
        env.push(("AWS_LAMBDA_FUNCTION_MEMORY_SIZE".into(), memory));

        let (prog, args) = match &program {
            Some(q) => (q.clone(), [prefix.clone(), vec![artifact.display().to_string()]].concat()),
            None => (artifact.clone(), vec![]),
        };
        let mut process = FunctionProcess::spawn(function, &prog, &args, &env)
            .await
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", prog.display()));
        let mut secret_strings = Vec::new();
        for e in events.iter().filter(|e| &e.function == function) {
            seed_for(&store, e, &events).await;
            secret_strings.extend(secrets(&e.json));
            let started = Instant::now();
            let outcome = process.invoke(&e.json, INVOKE_TIMEOUT).await;
            let ms = started.elapsed().as_millis();
            let result = match outcome {
                Ok(Outcome::Response(resp)) => check(&ctx, e, &resp).await,
                Ok(other) => Err(format!("{other:?}")),
                Err(err) => Err(err),
            };
            match result {
                Ok(summary) => report.push(format!("  events/{:<34} {summary} ({ms} ms)", e.file)),
                Err(err) => failures.push(format!("events/{}: {err}", e.file)),
            }
        }
        let output = process.stop().await;
        // Logs: JSON lines (LogFormat JSON), and nothing the requests carried in secret.
        for line in output.iter().filter(|l| !l.trim().is_empty()) {
            if serde_json::from_str::<serde_json::Map<String, Value>>(line).is_err() {
                failures.push(format!("{function}: a log line is not JSON: {line}"));
            }
            if let Some(s) = secret_strings.iter().find(|s| line.contains(s.as_str())) {
                failures.push(format!("{function}: a log line holds {s:?}: {line}"));
            }
        }
        if output.is_empty() {
            failures.push(format!("{function}: wrote no log line at all"));
        }
    }
    let skipped: Vec<_> =
        events.iter().filter(|e| !artifacts.contains_key(&e.function)).map(|e| e.file.as_str()).collect();
    println!(
        "replayed through the sam build artifacts ({}):",
        if program.is_some() { "qemu-aarch64" } else { "native" }
    );
    println!("{}", report.join("\n"));
    if !skipped.is_empty() {
        println!("not replayed, their function has no crate yet (the drift test fails): {skipped:?}");
    }
    assert!(!report.is_empty() || !failures.is_empty(), "no event was replayed");
    assert!(failures.is_empty(), "{} event(s) failed:\n{}", failures.len(), failures.join("\n"));
}
