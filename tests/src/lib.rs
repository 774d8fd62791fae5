//! Test harness: a fresh app per test on its own DynamoDB table in moto's server, requests sent
//! as API Gateway HTTP API (payload 2.0) events through lambda_http's own conversion, a cookie jar,
//! and readers for what the emulator saw (sent SMS, DynamoDB request counts).
//!
//! moto is started by the test command (`scripts/test.sh`), which sets the SDK's standard
//! settings (`AWS_ENDPOINT_URL`, region, test credentials); nothing here invents its own.

pub mod counting;
pub mod logs;
pub mod runtime_api;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use aws_config::{BehaviorVersion, SdkConfig};
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType, TimeToLiveSpecification,
};
use base64::Engine;
use ihome::avatars::{AvatarStore, S3Avatars};
use ihome::clock::ManualClock;
use ihome::config::Config;
use ihome::sms::{SmsSender, SnsSender};
use ihome::store::{DynamoStore, Store};
use ihome::{App, Route};
use serde_json::{Value, json};

pub use counting::CallCounter;

/// The moto endpoint set by the test command.
pub fn moto_endpoint() -> String {
    std::env::var("AWS_ENDPOINT_URL")
        .expect("AWS_ENDPOINT_URL is not set: run the tests through scripts/test.sh, which starts moto")
}

pub async fn sdk_config() -> SdkConfig {
    let _ = moto_endpoint();
    aws_config::defaults(BehaviorVersion::latest()).load().await
}

/// An SDK configuration pointing at a port where nothing listens, with no retries: a store or
/// SMS provider that is down.
pub async fn unreachable_sdk_config() -> SdkConfig {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr").port()
    };
    aws_config::defaults(BehaviorVersion::latest())
        .endpoint_url(format!("http://127.0.0.1:{port}"))
        .retry_config(aws_config::retry::RetryConfig::disabled())
        .load()
        .await
}

static SEQ: AtomicU64 = AtomicU64::new(0);

/// A name unique to this process and call, for tables and test data.
pub fn unique(prefix: &str) -> String {
    let n = SEQ.fetch_add(1, Ordering::SeqCst);
    format!("{prefix}-{}-{n}-{}", std::process::id(), rand::random::<u32>())
}

/// A mobile number no other test uses (random, 1[3-9] + 9 digits).
pub fn unique_mobile() -> String {
    use rand::Rng;
    let mut rng = rand::rng();
    format!("1{}{:09}", rng.random_range(3..=9), rng.random_range(0..1_000_000_000u64))
}

pub async fn create_table(client: &aws_sdk_dynamodb::Client, name: &str) {
    client
        .create_table()
        .table_name(name)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name("pk")
                .attribute_type(ScalarAttributeType::S)
                .build()
                .expect("attr"),
        )
        .key_schema(KeySchemaElement::builder().attribute_name("pk").key_type(KeyType::Hash).build().expect("key"))
        .send()
        .await
        .expect("create table in moto");
    client
        .update_time_to_live()
        .table_name(name)
        .time_to_live_specification(
            TimeToLiveSpecification::builder().attribute_name("expires_at").enabled(true).build().expect("ttl"),
        )
        .send()
        .await
        .expect("enable ttl");
}

/// Start of every test clock: a fixed, realistic instant.
pub const T0: i64 = 1_790_000_000;

pub struct TestApp {
    pub app: Arc<App>,
    pub clock: ManualClock,
    pub table: String,
    pub dynamo: aws_sdk_dynamodb::Client,
    pub calls: CallCounter,
    pub bucket: String,
    pub s3: aws_sdk_s3::Client,
}

pub struct Builder {
    config: Config,
    dynamo_sdk: Option<SdkConfig>,
    sns_sdk: Option<SdkConfig>,
    s3_sdk: Option<SdkConfig>,
}

/// The avatar base URL every test app is configured with.
pub const AVATAR_BASE: &str = "https://avatars.ihome.test/";

impl TestApp {
    pub fn builder() -> Builder {
        let config = Config { cookie_secure: true, bcrypt_cost: 4, ..Config::default() };
        Builder { config, dynamo_sdk: None, sns_sdk: None, s3_sdk: None }
    }

    pub async fn spawn() -> TestApp {
        Self::builder().build().await
    }

    pub fn client(&self) -> Client {
        Client {
            app: self.app.clone(),
            calls: self.calls.clone(),
            peek: (self.dynamo.clone(), self.table.clone()),
            jar: HashMap::new(),
            bearer: None,
        }
    }

    pub fn store(&self) -> &Store {
        &self.app.store
    }

    /// Deletes the user item behind a logged-in client, leaving its session: "user gone".
    pub async fn delete_user(&self, client: &Client) {
        let token = client.session_token().expect("logged in");
        let uid = token.split_once('.').map(|(u, _)| u.to_owned()).unwrap_or_default();
        self.dynamo
            .delete_item()
            .table_name(&self.table)
            .key("pk", aws_sdk_dynamodb::types::AttributeValue::S(format!("USER#{uid}")))
            .send()
            .await
            .expect("delete user item");
    }

    /// The stored captcha answer, read without consuming it (and without being counted).
    pub async fn peek_image_code(&self, id: &str) -> Option<String> {
        peek_image_code(&self.dynamo, &self.table, id).await
    }

    /// Registers a fresh user through the routes (captcha → SMS → register) and returns the
    /// logged-in client with its mobile and password.
    pub async fn registered_user(&self) -> (Client, String, String) {
        let mut c = self.client();
        let mobile = unique_mobile();
        let password = "correct horse 1".to_owned();
        let code = c.request_sms_fixture(&mobile).await;
        let r =
            c.post_json("/api/v1.0/users", &json!({"mobile": mobile, "sms_code": code, "password": password})).await;
        assert_eq!(r.errno(), "0", "register: {}", r.text());
        (c, mobile, password)
    }
}

impl Builder {
    pub fn config(mut self, f: impl FnOnce(&mut Config)) -> Self {
        f(&mut self.config);
        self
    }

    /// DynamoDB through this SDK config instead of moto's (e.g. an unreachable one).
    pub fn dynamo_sdk(mut self, sdk: SdkConfig) -> Self {
        self.dynamo_sdk = Some(sdk);
        self
    }

    pub fn sns_sdk(mut self, sdk: SdkConfig) -> Self {
        self.sns_sdk = Some(sdk);
        self
    }

    pub fn s3_sdk(mut self, sdk: SdkConfig) -> Self {
        self.s3_sdk = Some(sdk);
        self
    }

    pub async fn build(mut self) -> TestApp {
        let moto = sdk_config().await;
        let calls = CallCounter::default();
        let table = unique("ihome");
        let dynamo = aws_sdk_dynamodb::Client::new(&moto);
        create_table(&dynamo, &table).await;
        self.config.table = table.clone();
        let bucket = unique("avatars").to_lowercase();
        let s3 = aws_sdk_s3::Client::new(&moto);
        s3.create_bucket().bucket(&bucket).send().await.expect("create bucket in moto");
        self.config.avatar_bucket = bucket.clone();
        self.config.avatar_base_url = AVATAR_BASE.into();
        let avatar_client = aws_sdk_s3::Client::new(self.s3_sdk.as_ref().unwrap_or(&moto));
        let store_sdk = self.dynamo_sdk.unwrap_or_else(|| moto.clone());
        let store_client = aws_sdk_dynamodb::Client::from_conf(
            aws_sdk_dynamodb::config::Builder::from(&store_sdk).interceptor(calls.clone()).build(),
        );
        let sns = aws_sdk_sns::Client::new(self.sns_sdk.as_ref().unwrap_or(&moto));
        let clock = ManualClock::new(T0);
        let app = App::new(
            self.config.clone(),
            Store::Dynamo(DynamoStore::new(store_client, table.clone())),
            SmsSender::Sns(SnsSender::new(sns, None)),
            AvatarStore::S3(S3Avatars::new(avatar_client, bucket.clone())),
            Arc::new(clock.clone()),
        );
        TestApp { app: Arc::new(app), clock, table, dynamo, calls, bucket, s3 }
    }
}

/// A browser-like client: keeps the cookies the API sets and sends them back.
#[derive(Clone)]
pub struct Client {
    app: Arc<App>,
    calls: CallCounter,
    /// An uncounted client on the same table, to read what a person would see.
    peek: (aws_sdk_dynamodb::Client, String),
    jar: HashMap<String, String>,
    bearer: Option<String>,
}

pub struct Request<'a> {
    pub method: &'a str,
    pub path: &'a str,
    pub query: &'a [(&'a str, &'a str)],
    pub headers: &'a [(&'a str, &'a str)],
    pub body: Option<Vec<u8>>,
}

impl Client {
    pub fn session_token(&self) -> Option<String> {
        self.jar.get("session").cloned()
    }

    pub fn forget_cookies(&mut self) {
        self.jar.clear();
    }

    pub fn set_cookie(&mut self, name: &str, value: &str) {
        self.jar.insert(name.into(), value.into());
    }

    /// Sends `Authorization: Bearer` instead of cookies.
    pub fn use_bearer(&mut self, token: Option<String>) {
        self.bearer = token;
    }

    pub async fn get(&mut self, path: &str) -> Response {
        self.send(Request { method: "GET", path, query: &[], headers: &[], body: None }).await
    }

    pub async fn get_query(&mut self, path: &str, query: &[(&str, &str)]) -> Response {
        self.send(Request { method: "GET", path, query, headers: &[], body: None }).await
    }

    pub async fn delete(&mut self, path: &str) -> Response {
        self.send(Request { method: "DELETE", path, query: &[], headers: &[], body: None }).await
    }

    pub async fn put_json(&mut self, path: &str, body: &Value) -> Response {
        self.send(Request {
            method: "PUT",
            path,
            query: &[],
            headers: &[("content-type", "application/json")],
            body: Some(body.to_string().into_bytes()),
        })
        .await
    }

    /// POSTs `multipart/form-data` built from `parts`.
    pub async fn post_multipart(&mut self, path: &str, parts: &[Part<'_>]) -> Response {
        let (content_type, body) = multipart(parts);
        self.send(Request {
            method: "POST",
            path,
            query: &[],
            headers: &[("content-type", &content_type)],
            body: Some(body),
        })
        .await
    }

    pub async fn post_json(&mut self, path: &str, body: &Value) -> Response {
        self.send(Request {
            method: "POST",
            path,
            query: &[],
            headers: &[("content-type", "application/json")],
            body: Some(body.to_string().into_bytes()),
        })
        .await
    }

    /// Sends a request as API Gateway would hand it to the function, and returns the response.
    pub async fn send(&mut self, req: Request<'_>) -> Response {
        let Some((route, params)) = Route::resolve(req.method, req.path) else {
            return Response::status_only(404);
        };
        let event = self.event(route, &params, &req);
        let request = lambda_http::request::from_str(&event.to_string()).expect("event parses");
        let resp = counting::CURRENT_ROUTE.scope(route, route.handle(&self.app, request)).await;
        let violations = self.calls.violations();
        assert!(violations.is_empty(), "calls outside the IAM policy: {violations:?}");
        let resp = Response::from_http(resp);
        for cookie in &resp.set_cookies {
            let pair = cookie.split(';').next().unwrap_or_default();
            if let Some((name, value)) = pair.split_once('=') {
                if cookie.contains("Max-Age=0") {
                    self.jar.remove(name);
                } else {
                    self.jar.insert(name.to_owned(), value.to_owned());
                }
            }
        }
        resp
    }

    fn event(&self, route: Route, params: &[(String, String)], req: &Request<'_>) -> Value {
        let template = route
            .endpoints()
            .iter()
            .find(|(m, _)| m.eq_ignore_ascii_case(req.method))
            .map(|(_, t)| *t)
            .unwrap_or_default();
        let route_key = format!("{} {}", req.method, template);
        let raw_query: String =
            req.query.iter().map(|(k, v)| format!("{}={}", urlencode(k), urlencode(v))).collect::<Vec<_>>().join("&");
        let mut headers = serde_json::Map::new();
        headers.insert("host".into(), json!("api.example.com"));
        headers.insert("user-agent".into(), json!("ihome-tests"));
        for (k, v) in req.headers {
            headers.insert(k.to_lowercase(), json!(v));
        }
        if let Some(token) = &self.bearer {
            headers.insert("authorization".into(), json!(format!("Bearer {token}")));
        }
        let cookies: Vec<String> =
            if self.bearer.is_some() { vec![] } else { self.jar.iter().map(|(k, v)| format!("{k}={v}")).collect() };
        let path_params: serde_json::Map<String, Value> = params.iter().map(|(k, v)| (k.clone(), json!(v))).collect();
        let query_params: serde_json::Map<String, Value> =
            req.query.iter().map(|(k, v)| (k.to_string(), json!(v))).collect();
        let (body, b64) = match &req.body {
            None => (Value::Null, false),
            Some(bytes) => match std::str::from_utf8(bytes) {
                Ok(text) => (json!(text), false),
                Err(_) => (json!(base64::engine::general_purpose::STANDARD.encode(bytes)), true),
            },
        };
        let mut event = json!({
            "version": "2.0",
            "routeKey": route_key,
            "rawPath": req.path,
            "rawQueryString": raw_query,
            "headers": headers,
            "requestContext": {
                "accountId": "123456789012",
                "apiId": "ihome",
                "domainName": "api.example.com",
                "domainPrefix": "api",
                "http": {"method": req.method, "path": req.path, "protocol": "HTTP/1.1",
                         "sourceIp": "203.0.113.7", "userAgent": "ihome-tests"},
                "requestId": unique("req"),
                "routeKey": route_key,
                "stage": "$default",
                "time": "26/Nov/2026:12:00:00 +0000",
                "timeEpoch": 1_790_000_000_000u64
            },
            "isBase64Encoded": b64
        });
        if !cookies.is_empty() {
            event["cookies"] = json!(cookies);
        }
        if !path_params.is_empty() {
            event["pathParameters"] = Value::Object(path_params);
        }
        if !query_params.is_empty() {
            event["queryStringParameters"] = Value::Object(query_params);
        }
        if !body.is_null() {
            event["body"] = body;
        }
        event
    }

    /// Captcha → SMS through the routes; returns the code read back from moto's sent-SMS list.
    pub async fn request_sms(&mut self, mobile: &str) -> String {
        let id = unique("img");
        let text = self.captcha_text(&id).await;
        let r = self.get_query(&format!("/api/v1.0/smscode/{mobile}"), &[("text", &text), ("id", &id)]).await;
        assert_eq!(r.errno(), "0", "smscode: {}", r.text());
        last_sms_code(mobile).await.expect("an SMS in moto")
    }

    /// Captcha → SMS through the routes, for fixtures: the SMS is sent as usual, but its code is
    /// read from the table (one GetItem) rather than from moto's slower list of every SMS sent.
    pub async fn request_sms_fixture(&mut self, mobile: &str) -> String {
        let id = unique("img");
        let text = self.captcha_text(&id).await;
        let r = self.get_query(&format!("/api/v1.0/smscode/{mobile}"), &[("text", &text), ("id", &id)]).await;
        assert_eq!(r.errno(), "0", "smscode: {}", r.text());
        let out = self
            .peek
            .0
            .get_item()
            .table_name(&self.peek.1)
            .key("pk", aws_sdk_dynamodb::types::AttributeValue::S(format!("SMS#{mobile}")))
            .consistent_read(true)
            .send()
            .await
            .expect("read sms code");
        out.item.and_then(|i| i.get("code").and_then(|c| c.as_s().ok().cloned())).expect("sms code stored")
    }

    /// Fetches a captcha image and returns its answer (read from the store, as a person reads it).
    pub async fn captcha_text(&mut self, id: &str) -> String {
        let r = self.get(&format!("/api/v1.0/imagecode/{id}")).await;
        assert_eq!(r.status, 200);
        assert_eq!(r.header("content-type"), Some("image/png"));
        peek_image_code(&self.peek.0, &self.peek.1, id).await.expect("captcha stored")
    }
}

/// One part of a multipart body: field name, file name (None for a plain field), bytes.
pub struct Part<'a> {
    pub name: &'a str,
    pub filename: Option<&'a str>,
    pub content_type: &'a str,
    pub data: &'a [u8],
}

/// A `multipart/form-data` body as a browser sends it: (Content-Type header, body).
pub fn multipart(parts: &[Part<'_>]) -> (String, Vec<u8>) {
    let boundary = "----ihomeFormBoundary7MA4YWxkTrZu0gW";
    let mut body = Vec::new();
    for p in parts {
        body.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
        match p.filename {
            Some(f) => body.extend_from_slice(
                format!(
                    "Content-Disposition: form-data; name=\"{}\"; filename=\"{f}\"\r\nContent-Type: {}\r\n\r\n",
                    p.name, p.content_type
                )
                .as_bytes(),
            ),
            None => body
                .extend_from_slice(format!("Content-Disposition: form-data; name=\"{}\"\r\n\r\n", p.name).as_bytes()),
        }
        body.extend_from_slice(p.data);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

/// The stored captcha answer, read without consuming it.
pub async fn peek_image_code(dynamo: &aws_sdk_dynamodb::Client, table: &str, id: &str) -> Option<String> {
    let out = dynamo
        .get_item()
        .table_name(table)
        .key("pk", aws_sdk_dynamodb::types::AttributeValue::S(format!("IMG#{id}")))
        .consistent_read(true)
        .send()
        .await
        .ok()?;
    out.item?.get("code")?.as_s().ok().cloned()
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Every SMS moto recorded, as (phone number, message), oldest first.
pub async fn all_sent_sms() -> Vec<(String, String)> {
    let url = format!("{}/moto-api/data.json", moto_endpoint());
    // moto walks every tracked model for this page, and fails now and then when other tests
    // create models while it does: try again.
    let mut data = Value::Null;
    for attempt in 0..10 {
        match reqwest::get(&url).await {
            Ok(r) if r.status().is_success() => {
                if let Ok(v) = r.json::<Value>().await {
                    data = v;
                    break;
                }
            }
            _ => {}
        }
        tokio::time::sleep(std::time::Duration::from_millis(50 * (attempt + 1))).await;
    }
    data["sns"]["SMS"]
        .as_array()
        .map(|all| {
            all.iter()
                .filter_map(|m| Some((m["phone_number"].as_str()?.to_owned(), m["message"].as_str()?.to_owned())))
                .collect()
        })
        .unwrap_or_default()
}

/// Every SMS moto recorded for `+86<mobile>`, oldest first.
pub async fn sent_sms(mobile: &str) -> Vec<String> {
    let phone = format!("+86{mobile}");
    all_sent_sms().await.into_iter().filter(|(p, _)| *p == phone).map(|(_, m)| m).collect()
}

/// The 6-digit code of the newest SMS to `mobile`.
pub async fn last_sms_code(mobile: &str) -> Option<String> {
    let msg = sent_sms(mobile).await.pop()?;
    let digits: Vec<char> = msg.chars().collect();
    digits.windows(6).find(|w| w.iter().all(char::is_ascii_digit)).map(|w| w.iter().collect())
}

pub struct Response {
    pub status: u16,
    pub headers: http::HeaderMap,
    pub body: Vec<u8>,
    pub set_cookies: Vec<String>,
}

impl Response {
    fn status_only(status: u16) -> Self {
        Response { status, headers: http::HeaderMap::new(), body: vec![], set_cookies: vec![] }
    }

    fn from_http(resp: http::Response<lambda_http::Body>) -> Self {
        let (parts, body) = resp.into_parts();
        let set_cookies = parts
            .headers
            .get_all(http::header::SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok().map(str::to_owned))
            .collect();
        Response { status: parts.status.as_u16(), headers: parts.headers, body: body.as_ref().to_vec(), set_cookies }
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }

    /// The envelope's errno; also checks the envelope's shape and HTTP 200.
    pub fn errno(&self) -> String {
        assert_eq!(self.status, 200, "enveloped answers are HTTP 200: {}", self.text());
        let v = self.json();
        assert!(v["errno"].is_string(), "errno must be a string: {v}");
        assert!(v["errmsg"].is_string(), "errmsg must be a string: {v}");
        v["errno"].as_str().unwrap_or_default().to_owned()
    }

    pub fn errmsg(&self) -> String {
        self.json()["errmsg"].as_str().unwrap_or_default().to_owned()
    }

    pub fn data(&self) -> Value {
        self.json()["data"].clone()
    }

    /// Asserts errno and message together.
    #[track_caller]
    pub fn assert(&self, errno: &str, errmsg: &str) {
        assert_eq!((self.errno().as_str(), self.errmsg().as_str()), (errno, errmsg), "{}", self.text());
    }
}
