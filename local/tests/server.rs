//! Starts `ihome-local` as the README says (the same binary, the same arguments), drives the whole
//! API over real HTTP with a cookie jar, restarts it, and checks that everything is still there.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ihome::store::keys;
use serde_json::{Value, json};

struct Server {
    child: Child,
    port: u16,
    stdout: Arc<Mutex<Vec<String>>>,
    stopped: bool,
}

impl Drop for Server {
    // A failed test must not leave a server running.
    fn drop(&mut self) {
        if !self.stopped {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("free port")
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("ihome-local-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

fn command(port: u16, data: &Path, extra: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_ihome-local"));
    cmd.args(["--port", &port.to_string(), "--data"]).arg(data).args(extra);
    // The embedded defaults: no AWS endpoint may leak in from the test command's environment.
    for (k, _) in std::env::vars() {
        if k.starts_with("AWS_ENDPOINT_URL") {
            cmd.env_remove(k);
        }
    }
    cmd.env("IHOME_BCRYPT_COST", "4");
    cmd
}

impl Server {
    fn start(port: u16, data: &Path, extra: &[&str]) -> Server {
        Self::spawn(command(port, data, extra), port)
    }

    /// Runs `cmd`, collects its standard output, and waits for the start-up banner.
    fn spawn(mut cmd: Command, port: u16) -> Server {
        let mut child = cmd.stdout(Stdio::piped()).stderr(Stdio::inherit()).spawn().expect("start ihome-local");
        let stdout = Arc::new(Mutex::new(Vec::new()));
        let lines = stdout.clone();
        let out = child.stdout.take().expect("stdout");
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                lines.lock().unwrap().push(line);
            }
        });
        let server = Server { child, port, stdout, stopped: false };
        server.wait_for("listening on", Duration::from_secs(30));
        server.wait_for("static files:", Duration::from_secs(5));
        server
    }

    fn wait_for(&self, needle: &str, timeout: Duration) -> String {
        let start = Instant::now();
        loop {
            if let Some(line) = self.stdout.lock().unwrap().iter().find(|l| l.contains(needle)) {
                return line.clone();
            }
            assert!(start.elapsed() < timeout, "no {needle:?} in output: {:?}", self.stdout.lock().unwrap());
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// Ctrl-C, as a person would stop it; waits for a clean exit.
    fn stop(mut self) -> Vec<String> {
        self.stopped = true;
        let status = Command::new("kill").args(["-INT", &self.child.id().to_string()]).status().expect("kill");
        assert!(status.success());
        let exit = self.child.wait().expect("wait");
        assert!(exit.success(), "exit status {exit:?}");
        std::thread::sleep(Duration::from_millis(50));
        self.stdout.lock().unwrap().clone()
    }
}

/// The last JSON line of `file` whose `key` is `value`.
fn last_line(file: &Path, key: &str, value: &str) -> Value {
    let text = std::fs::read_to_string(file).unwrap_or_default();
    text.lines()
        .rev()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|v| v[key] == value)
        .unwrap_or_else(|| panic!("no line with {key}={value} in {}", file.display()))
}

fn client() -> reqwest::Client {
    reqwest::Client::builder().cookie_store(true).build().expect("client")
}

async fn json(resp: reqwest::Response) -> Value {
    assert_eq!(resp.status(), 200);
    resp.json().await.expect("JSON envelope")
}

async fn log_in(c: &reqwest::Client, server: &Server, mobile: &str, password: &str) -> Value {
    let resp = c.post(server.url("/api/v1.0/sessions")).json(&json!({"mobile": mobile, "password": password}));
    json(resp.send().await.unwrap()).await
}

/// A small real PNG (8×8 pixels).
fn sample_png() -> Vec<u8> {
    let img = image::RgbImage::from_fn(8, 8, |x, y| image::Rgb([(x * 30) as u8, (y * 30) as u8, 128]));
    let mut out = std::io::Cursor::new(Vec::new());
    image::DynamicImage::ImageRgb8(img).write_to(&mut out, image::ImageFormat::Png).expect("encode png");
    out.into_inner()
}

fn multipart(bytes: &[u8]) -> (String, Vec<u8>) {
    let boundary = "----localTestBoundary";
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"avatar\"; filename=\"me.png\"\r\nContent-Type: image/png\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(bytes);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

#[tokio::test]
async fn whole_flow_over_http_survives_a_restart() {
    let data = temp_dir("flow");
    let web = temp_dir("web");
    std::fs::write(web.join("index.html"), "<html><body>iHome</body></html>").unwrap();
    let port = free_port();
    let server = Server::start(port, &data, &["--static", web.to_str().unwrap()]);
    let banner = server.stdout.lock().unwrap().join("\n");
    assert!(banner.contains("storage: embedded (redb)"), "{banner}");
    assert!(banner.contains("sms.jsonl"), "{banner}");

    let c = client();
    let mobile = "13912345678";
    let password = "local-pass-1";

    // The frontend is served from the same origin.
    let page = c.get(server.url("/")).send().await.unwrap();
    assert_eq!(page.headers()["content-type"], "text/html");
    assert!(page.text().await.unwrap().contains("iHome"));

    let img = c.get(server.url("/api/v1.0/imagecode/local-1")).send().await.unwrap();
    assert_eq!(img.headers()["content-type"], "image/png");
    assert_eq!(&img.bytes().await.unwrap()[..4], b"\x89PNG");
    let text = last_line(&data.join("captcha.jsonl"), "id", "local-1")["text"].as_str().unwrap().to_owned();
    let r =
        json(c.get(server.url(&format!("/api/v1.0/smscode/{mobile}?text={text}&id=local-1"))).send().await.unwrap())
            .await;
    assert_eq!(r["errno"], "0", "{r}");
    let sms = last_line(&data.join("sms.jsonl"), "phone_number", &format!("+86{mobile}"));
    let message = sms["message"].as_str().unwrap();
    let code: String = message.chars().filter(char::is_ascii_digit).take(6).collect();
    assert_eq!(code.len(), 6, "{message}");
    server.wait_for("[LOCAL SMS, not sent] to 139****5678", Duration::from_secs(5));

    let reg = c
        .post(server.url("/api/v1.0/users"))
        .json(&json!({"mobile": mobile, "sms_code": code, "password": password, "password2": password}))
        .send()
        .await
        .unwrap();
    let cookie = reg.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax") && !cookie.contains("Secure"), "{cookie}");
    let reg = json(reg).await;
    assert_eq!(reg["errno"], "0", "{reg}");
    let user_id = reg["data"]["user_id"].clone();

    let png = sample_png();
    let (ct, body) = multipart(&png);
    let up =
        json(c.post(server.url("/api/v1.0/user/avatar")).header("content-type", ct).body(body).send().await.unwrap())
            .await;
    assert_eq!(up["errno"], "0", "{up}");
    let avatar_url = up["data"]["avatar_url"].as_str().unwrap().to_owned();
    assert!(avatar_url.starts_with(&server.url("/avatars/")), "{avatar_url}");
    let served = c.get(&avatar_url).send().await.unwrap();
    assert_eq!(served.headers()["content-type"], "image/png");
    assert_eq!(served.headers()["x-content-type-options"], "nosniff");
    assert_eq!(served.bytes().await.unwrap().as_ref(), png.as_slice());

    let r =
        json(c.put(server.url("/api/v1.0/user/name")).json(&json!({"name": "本地用户"})).send().await.unwrap()).await;
    assert_eq!(r["errno"], "0", "{r}");
    let r = json(
        c.post(server.url("/api/v1.0/user/auth"))
            .json(&json!({"real_name": "张三", "id_card": "11010519491231002X"}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(r["errno"], "0", "{r}");
    let me = json(c.get(server.url("/api/v1.0/user")).send().await.unwrap()).await;
    assert_eq!((&me["data"]["name"], &me["data"]["avatar_url"]), (&json!("本地用户"), &json!(avatar_url)));
    let auth = json(c.get(server.url("/api/v1.0/user/auth")).send().await.unwrap()).await;
    assert_eq!(auth["data"], json!({"user_id": user_id, "real_name": "张三", "id_card": "110105********002X"}));

    let out = json(c.delete(server.url("/api/v1.0/session")).send().await.unwrap()).await;
    assert_eq!(out["errno"], "0");
    let gone = json(c.get(server.url("/api/v1.0/session")).send().await.unwrap()).await;
    assert_eq!(gone["errno"], "4101");
    let login = log_in(&c, &server, mobile, password).await;
    assert_eq!(login["data"], json!({"user_id": user_id}));

    // Unknown API paths are API Gateway's plain 404.
    assert_eq!(c.get(server.url("/api/v1.0/nope")).send().await.unwrap().status(), 404);

    let output = server.stop();
    assert!(output.iter().any(|l| l.contains("stopped")), "{output:?}");

    // Same data folder, new process: the account, its profile and its avatar are all still there.
    let server = Server::start(port, &data, &[]);
    let c = client();
    let login = log_in(&c, &server, mobile, password).await;
    assert_eq!(login["data"], json!({"user_id": user_id}), "{login}");
    let me = json(c.get(server.url("/api/v1.0/user")).send().await.unwrap()).await;
    assert_eq!((&me["data"]["name"], &me["data"]["avatar_url"]), (&json!("本地用户"), &json!(avatar_url)));
    let auth = json(c.get(server.url("/api/v1.0/user/auth")).send().await.unwrap()).await;
    assert_eq!(auth["data"]["id_card"], "110105********002X");
    assert_eq!(c.get(&avatar_url).send().await.unwrap().bytes().await.unwrap().as_ref(), png.as_slice());
    server.stop();
    let _ = std::fs::remove_dir_all(&data);
    let _ = std::fs::remove_dir_all(&web);
}

#[tokio::test]
async fn a_port_in_use_is_a_clear_message() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let data = temp_dir("busy");
    let out = command(port, &data, &[]).output().expect("run");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains(&format!("port {port} is already in use")), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    let _ = std::fs::remove_dir_all(&data);
}

/// With the SDK's standard endpoint setting present (moto here), the same server runs on
/// DynamoDB, SNS and S3 instead of the embedded defaults.
#[tokio::test]
async fn aws_endpoint_settings_switch_to_dynamodb_sns_and_s3() {
    let Ok(endpoint) = std::env::var("AWS_ENDPOINT_URL") else {
        panic!("AWS_ENDPOINT_URL is not set: run the tests through scripts/test.sh, which starts moto");
    };
    let data = temp_dir("aws");
    let port = free_port();
    let table = format!("local-aws-{}", std::process::id());
    let bucket = format!("local-aws-{}", std::process::id());
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_ihome-local"));
    cmd.args(["--port", &port.to_string(), "--data"])
        .arg(&data)
        .env("IHOME_TABLE", &table)
        .env("IHOME_AVATAR_BUCKET", &bucket)
        .env("IHOME_BCRYPT_COST", "4");
    let server = Server::spawn(cmd, port);
    let storage = server.wait_for("storage:", Duration::from_secs(5));
    assert!(storage.contains(&format!("DynamoDB table \"{table}\"")) && storage.contains(&endpoint), "{storage}");

    let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let dynamo = aws_sdk_dynamodb::Client::new(&sdk);
    let c = client();
    let mobile = "13612345678";
    let code = aws_sms_code(&c, &server, &dynamo, &table, mobile, "aws-1").await;
    assert!(!data.join("sms.jsonl").exists(), "not the local outbox");
    let data_json: Value = reqwest::get(format!("{endpoint}/moto-api/data.json")).await.unwrap().json().await.unwrap();
    let sent = data_json["sns"]["SMS"].as_array().unwrap();
    assert!(
        sent.iter()
            .any(|m| m["phone_number"] == format!("+86{mobile}") && m["message"].as_str().unwrap().contains(&code))
    );

    register_with_avatar(&c, &server, mobile, &code, "aws-mode-pass").await;
    let s3 = aws_sdk_s3::Client::new(&sdk);
    let listed = s3.list_objects_v2().bucket(&bucket).send().await.unwrap();
    assert_eq!(listed.key_count(), Some(1), "the avatar went to S3");
    let me = json(c.get(server.url("/api/v1.0/user")).send().await.unwrap()).await;
    assert_eq!(me["data"]["mobile"], mobile);
    server.stop();
    let _ = std::fs::remove_dir_all(&data);
}

/// Registers `mobile` with its SMS `code`, then uploads `sample_png()` as the avatar: the upload's
/// answer (both must succeed).
async fn register_with_avatar(c: &reqwest::Client, server: &Server, mobile: &str, code: &str, password: &str) -> Value {
    let register = json!({"mobile": mobile, "sms_code": code, "password": password});
    let reg = json(c.post(server.url("/api/v1.0/users")).json(&register).send().await.unwrap()).await;
    assert_eq!(reg["errno"], "0", "{reg}");
    let (ct, body) = multipart(&sample_png());
    let up =
        json(c.post(server.url("/api/v1.0/user/avatar")).header("content-type", ct).body(body).send().await.unwrap())
            .await;
    assert_eq!(up["errno"], "0", "{up}");
    up
}

/// On a server running on moto: draws captcha `captcha_id`, reads its answer from the table, has
/// an SMS code sent to `mobile`, and reads that code from the table.
async fn aws_sms_code(
    c: &reqwest::Client,
    server: &Server,
    dynamo: &aws_sdk_dynamodb::Client,
    table: &str,
    mobile: &str,
    captcha_id: &str,
) -> String {
    let item = |pk: String| async move {
        dynamo
            .get_item()
            .table_name(table)
            .key(keys::PK, aws_sdk_dynamodb::types::AttributeValue::S(pk.clone()))
            .send()
            .await
            .unwrap_or_else(|e| panic!("{pk} in moto's DynamoDB: {e}"))
            .item
            .unwrap_or_else(|| panic!("no item {pk}"))
    };
    assert_eq!(c.get(server.url(&format!("/api/v1.0/imagecode/{captcha_id}"))).send().await.unwrap().status(), 200);
    let captcha = item(format!("{}{captcha_id}", keys::IMAGE_CODE_PREFIX)).await;
    let text = captcha["code"].as_s().unwrap().clone();
    let url = server.url(&format!("/api/v1.0/smscode/{mobile}?text={text}&id={captcha_id}"));
    let r = json(c.get(url).send().await.unwrap()).await;
    assert_eq!(r["errno"], "0", "{r}");
    let sms = item(format!("{}{mobile}", keys::SMS_CODE_PREFIX)).await;
    sms["code"].as_s().unwrap().clone()
}

/// The status of a request sent as written, by a client that does not resolve `..` or `%2e` in
/// paths first (reqwest, like browsers, does).
fn raw_status(port: u16, target: &str) -> u16 {
    use std::io::{Read, Write};
    let mut conn = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
    conn.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
    write!(conn, "GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n").expect("send");
    let mut answer = Vec::new();
    let _ = conn.read_to_end(&mut answer);
    let answer = String::from_utf8_lossy(&answer);
    answer.split(' ').nth(1).and_then(|code| code.parse().ok()).unwrap_or_else(|| panic!("no status: {answer:?}"))
}

async fn put_object(s3: &aws_sdk_s3::Client, bucket: &str, key: &str, content_type: &str, body: &[u8]) {
    s3.put_object()
        .bucket(bucket)
        .key(key)
        .content_type(content_type)
        .body(body.to_vec().into())
        .send()
        .await
        .unwrap_or_else(|e| panic!("put {key}: {e}"));
}

/// `--aws` with a private bucket, as in the stack: the avatar URLs point at the local server,
/// which reads the objects from the bucket and serves them as the stack's CloudFront does (stored
/// type, long cache, nosniff); a missing key is a 404, and nothing but avatar keys can be reached.
#[tokio::test]
async fn aws_mode_serves_avatars_from_the_private_bucket() {
    let Ok(endpoint) = std::env::var("AWS_ENDPOINT_URL") else {
        panic!("AWS_ENDPOINT_URL is not set: run the tests through scripts/test.sh, which starts moto");
    };
    let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let (s3, dynamo) = (aws_sdk_s3::Client::new(&sdk), aws_sdk_dynamodb::Client::new(&sdk));
    let name = format!("local-avatars-{}-{}", std::process::id(), rand_suffix());
    let (table, bucket) = (name.clone(), name);
    s3.create_bucket().bucket(&bucket).send().await.expect("create the bucket");
    let private = aws_sdk_s3::types::PublicAccessBlockConfiguration::builder()
        .block_public_acls(true)
        .block_public_policy(true)
        .ignore_public_acls(true)
        .restrict_public_buckets(true)
        .build();
    s3.put_public_access_block()
        .bucket(&bucket)
        .public_access_block_configuration(private)
        .send()
        .await
        .expect("block public access");
    // Objects the server must never hand out: outside the avatars' prefix, or not an avatar key.
    put_object(&s3, &bucket, "secret.txt", "text/plain", b"not for browsers").await;
    put_object(&s3, &bucket, "avatars/notes.html", "text/html", b"<script>alert(1)</script>").await;
    // An avatar key whose object says it is a page (no upload writes one): served as its key's
    // image type all the same, with the avatars' long cache it has none of.
    let odd_key = "avatars/0123456789abcdef0123456789abcdef.webp";
    put_object(&s3, &bucket, odd_key, "text/html", b"<html>not an image</html>").await;

    let data = temp_dir("aws-avatars");
    let port = free_port();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_ihome-local"));
    cmd.args(["--port", &port.to_string(), "--data"])
        .arg(&data)
        .env("IHOME_TABLE", &table)
        .env("IHOME_AVATAR_BUCKET", &bucket)
        .env_remove("IHOME_AVATAR_BASE_URL")
        .env("IHOME_BCRYPT_COST", "4");
    let server = Server::spawn(cmd, port);
    let banner = server.wait_for("avatars:", Duration::from_secs(5));
    assert!(banner.contains(&format!("S3 bucket \"{bucket}\", served at {}", server.url("/avatars/"))), "{banner}");

    let c = client();
    let mobile = "13712345678";
    let code = aws_sms_code(&c, &server, &dynamo, &table, mobile, "avatar-1").await;
    let up = register_with_avatar(&c, &server, mobile, &code, "aws-avatar-pass").await;
    // The bytes uploaded (sample_png draws the same image every time).
    let png = sample_png();
    let avatar_url = up["data"]["avatar_url"].as_str().unwrap().to_owned();
    assert!(avatar_url.starts_with(&server.url("/avatars/")) && !avatar_url.contains(&endpoint), "{avatar_url}");
    let me = json(c.get(server.url("/api/v1.0/user")).send().await.unwrap()).await;
    assert_eq!(me["data"]["avatar_url"], avatar_url.as_str());

    // The object is in the bucket, and the server hands out exactly it, as CloudFront would.
    let key = avatar_url.strip_prefix(&server.url("/")).unwrap();
    let stored = s3.get_object().bucket(&bucket).key(key).send().await.expect("the avatar is in the bucket");
    assert_eq!(stored.content_type(), Some("image/png"));
    assert_eq!(stored.body.collect().await.unwrap().into_bytes().as_ref(), png.as_slice());
    let served = client().get(&avatar_url).send().await.unwrap();
    assert_eq!(served.status(), 200);
    assert_eq!(served.headers()["content-type"], "image/png");
    assert_eq!(served.headers()["cache-control"], ihome::avatars::CACHE_CONTROL);
    assert_eq!(served.headers()["x-content-type-options"], "nosniff");
    assert!(served.headers().contains_key("etag") && served.headers().contains_key("last-modified"));
    assert_eq!(served.bytes().await.unwrap().as_ref(), png.as_slice());
    let head = client().head(&avatar_url).send().await.unwrap();
    assert_eq!(head.status(), 200);
    assert_eq!(head.headers()["content-type"], "image/png");
    assert_eq!(head.headers()["content-length"], png.len().to_string().as_str());
    assert!(head.bytes().await.unwrap().is_empty());

    let odd = client().get(server.url(&format!("/{odd_key}"))).send().await.unwrap();
    assert_eq!(odd.status(), 200);
    assert_eq!(odd.headers()["content-type"], "image/webp");
    assert_eq!(odd.headers()["cache-control"], ihome::avatars::CACHE_CONTROL);
    assert_eq!(odd.headers()["x-content-type-options"], "nosniff");
    assert_eq!(odd.bytes().await.unwrap().as_ref(), b"<html>not an image</html>");

    // A missing key, names of another shape (the object exists), the listing, other paths.
    let missing = "/avatars/ffffffffffffffffffffffffffffffff.png";
    let upper = format!("/{}", key.replace(".png", ".PNG"));
    for path in [missing, upper.as_str(), "/avatars/notes.html", "/avatars/", "/avatars", "/secret.txt"] {
        let resp = client().get(server.url(path)).send().await.unwrap();
        assert_eq!(resp.status(), 404, "{path}");
    }
    // Ways out of the prefix, sent as written.
    for target in [
        "/avatars/../secret.txt",
        "/avatars/%2e%2e/secret.txt",
        "/avatars/%2e%2e%2fsecret.txt",
        "/avatars/..%2Fsecret.txt",
        "/avatars/%2Fsecret.txt",
        "/avatars//secret.txt",
        "/avatars/notes.html%00.png",
        "/avatars/0123456789abcdef0123456789abcdef.webp/../../secret.txt",
    ] {
        assert_eq!(raw_status(port, target), 404, "{target}");
    }
    // Not a page's way in either: only GET and HEAD are served outside the API.
    let post = client().post(&avatar_url).body("x").send().await.unwrap();
    assert_eq!(post.status(), 405);
    server.stop();
    let _ = std::fs::remove_dir_all(&data);
}

/// `--redis URL`: the abuse budgets are counted in that Redis (the test command's redis-server),
/// not in the embedded store, and the banner says so.
#[tokio::test]
async fn the_redis_option_counts_the_budgets_in_redis() {
    let Ok(url) = std::env::var("IHOME_TEST_REDIS_URL") else {
        panic!("IHOME_TEST_REDIS_URL is not set: run the tests through scripts/test.sh, which starts redis-server");
    };
    let data = temp_dir("redis");
    let port = free_port();
    let table = format!("local-redis-{}-{}", std::process::id(), rand_suffix());
    let mut cmd = command(port, &data, &["--redis", &url]);
    cmd.env("IHOME_TABLE", &table).env("IHOME_LIMIT_CAPTCHA_PER_IP", "2");
    // Early in a captcha window (a minute), so the three requests below share one.
    let into_window = unix_now() % 60;
    if into_window > 40 {
        tokio::time::sleep(Duration::from_secs(61 - into_window)).await;
    }
    let server = Server::spawn(cmd, port);
    let counters = server.wait_for("abuse counters:", Duration::from_secs(5));
    assert!(counters.contains("Redis at redis://127.0.0.1:"), "{counters}");

    let c = client();
    for id in ["r1", "r2"] {
        let resp = c.get(server.url(&format!("/api/v1.0/imagecode/{id}"))).send().await.unwrap();
        assert_eq!(resp.headers()["content-type"], "image/png");
    }
    let refused = json(c.get(server.url("/api/v1.0/imagecode/r3")).send().await.unwrap()).await;
    assert_eq!(refused["errno"], "4202", "{refused}");

    use ihome::limits::Limiter;
    let endpoint = ihome::cache::CacheEndpoint::parse(&url).expect("url");
    let redis = ihome::cache::RedisCounters::new(endpoint, &table);
    let counter = ihome::limits::Counter::new(
        ihome::limits::Budget::CaptchaPerIp,
        ihome::limits::Subject::Ip(ihome::domain::ClientIp::parse("127.0.0.1")),
        &ihome::config::Limits::default(),
    );
    assert_eq!(redis.used(&counter, unix_now() as i64).await.unwrap(), 2);
    server.stop();
}

fn unix_now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

fn rand_suffix() -> u32 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0)
}

/// The contract is served beside the API: the repository's `openapi.yaml`, byte for byte.
#[tokio::test]
async fn serves_the_openapi_contract() {
    let data = temp_dir("openapi");
    let port = free_port();
    let server = Server::start(port, &data, &[]);
    let resp = client().get(server.url("/api/v1.0/openapi.yaml")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "application/yaml");
    let body = resp.bytes().await.unwrap();
    let file = std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("../openapi.yaml")).unwrap();
    assert_eq!(body.as_ref(), file.as_slice());
    server.stop();
}

/// On the embedded server: draws captcha `captcha_id`, reads its answer from the captcha echo,
/// asks for an SMS code (`purpose` is `register` or `reset`) and returns the answer envelope with
/// the code last sent to `mobile`, if any.
async fn local_sms_code(
    c: &reqwest::Client,
    server: &Server,
    data: &Path,
    mobile: &str,
    captcha_id: &str,
    purpose: &str,
) -> (Value, Option<String>) {
    assert_eq!(c.get(server.url(&format!("/api/v1.0/imagecode/{captcha_id}"))).send().await.unwrap().status(), 200);
    let text = last_line(&data.join("captcha.jsonl"), "id", captcha_id)["text"].as_str().unwrap().to_owned();
    let url = server.url(&format!("/api/v1.0/smscode/{mobile}?text={text}&id={captcha_id}&purpose={purpose}"));
    let r = json(c.get(url).send().await.unwrap()).await;
    let outbox = std::fs::read_to_string(data.join("sms.jsonl")).unwrap_or_default();
    let code = outbox
        .lines()
        .rev()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|v| v["phone_number"] == format!("+86{mobile}").as_str())
        .and_then(|v| Some(v["message"].as_str()?.chars().filter(char::is_ascii_digit).take(6).collect()));
    (r, code)
}

/// The account routes on the embedded store, over HTTP: a new password, a reset by SMS (the
/// reset code is sent only to an account's mobile, answered alike for any), logging out
/// everywhere, and deletion, after which the mobile registers again.
#[tokio::test]
async fn the_account_routes_work_on_the_embedded_store() {
    let data = temp_dir("account");
    let server = Server::start(free_port(), &data, &[]);
    let (c, phone) = (client(), client());
    let mobile = "13712345678";
    let send = |c: &reqwest::Client, method: reqwest::Method, path: &str, body: Value| {
        c.request(method, server.url(path)).json(&body).send()
    };
    let (r, code) = local_sms_code(&c, &server, &data, mobile, "c1", "register").await;
    assert_eq!(r["errno"], "0", "{r}");
    let register = json!({"mobile": mobile, "sms_code": code.unwrap(), "password": "first-pass-1"});
    assert_eq!(json(send(&c, reqwest::Method::POST, "/api/v1.0/users", register).await.unwrap()).await["errno"], "0");
    assert_eq!(log_in(&phone, &server, mobile, "first-pass-1").await["errno"], "0");

    // A new password: this session stays, the phone's ends.
    let change = json!({"old_password": "first-pass-1", "new_password": "second-pass-2"});
    let r = json(send(&c, reqwest::Method::PUT, "/api/v1.0/user/password", change).await.unwrap()).await;
    assert_eq!((r["errno"].as_str(), r["errmsg"].as_str()), (Some("0"), Some("密码已修改")), "{r}");
    assert_eq!(json(c.get(server.url("/api/v1.0/user")).send().await.unwrap()).await["errno"], "0");
    assert_eq!(json(phone.get(server.url("/api/v1.0/user")).send().await.unwrap()).await["errno"], "4101");

    // A reset code: sent to the account's mobile; for a mobile without one, the same answer and
    // nothing sent.
    let (r, code) = local_sms_code(&phone, &server, &data, mobile, "c2", "reset").await;
    assert_eq!(r["errno"], "0", "{r}");
    let code = code.unwrap();
    let (r, nothing) = local_sms_code(&phone, &server, &data, "13712340000", "c3", "reset").await;
    assert_eq!((r["errno"].as_str(), nothing), (Some("0"), None), "{r}");
    let reset = json!({"mobile": mobile, "sms_code": code, "password": "third-pass-3"});
    let r = json(send(&phone, reqwest::Method::POST, "/api/v1.0/password/reset", reset).await.unwrap()).await;
    assert_eq!(r["errno"], "0", "{r}");
    assert_eq!(
        json(c.get(server.url("/api/v1.0/user")).send().await.unwrap()).await["errno"],
        "4101",
        "reset ends all"
    );

    // Logging out everywhere.
    assert_eq!(log_in(&c, &server, mobile, "third-pass-3").await["errno"], "0");
    assert_eq!(log_in(&phone, &server, mobile, "third-pass-3").await["errno"], "0");
    let r = json(phone.delete(server.url("/api/v1.0/user/sessions")).send().await.unwrap()).await;
    assert_eq!(r["errno"], "0", "{r}");
    assert_eq!(json(c.get(server.url("/api/v1.0/user")).send().await.unwrap()).await["errno"], "4101");

    // Deletion: the account goes and the mobile registers again.
    assert_eq!(log_in(&c, &server, mobile, "third-pass-3").await["errno"], "0");
    let r =
        json(send(&c, reqwest::Method::DELETE, "/api/v1.0/user", json!({"password": "wrong-one-1"})).await.unwrap())
            .await;
    assert_eq!(r["errno"], "4106", "{r}");
    let r =
        json(send(&c, reqwest::Method::DELETE, "/api/v1.0/user", json!({"password": "third-pass-3"})).await.unwrap())
            .await;
    assert_eq!((r["errno"].as_str(), r["errmsg"].as_str()), (Some("0"), Some("账号已注销")), "{r}");
    assert_eq!(log_in(&c, &server, mobile, "third-pass-3").await["errno"], "4004");
    let (r, code) = local_sms_code(&c, &server, &data, mobile, "c4", "register").await;
    assert_eq!(r["errno"], "0", "{r}");
    let register = json!({"mobile": mobile, "sms_code": code.unwrap(), "password": "fourth-pass-4"});
    assert_eq!(json(send(&c, reqwest::Method::POST, "/api/v1.0/users", register).await.unwrap()).await["errno"], "0");
    server.stop();
    let _ = std::fs::remove_dir_all(&data);
}
