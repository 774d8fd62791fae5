//! A browser-like client: requests become API Gateway HTTP API (payload 2.0) events, turned into
//! requests by lambda_http itself as in Lambda; the cookies the API sets are kept and sent back.

use std::collections::HashMap;
use std::sync::Arc;

use aws_sdk_dynamodb::types::AttributeValue;
use base64::Engine;
use ihome::Route;
use ihome::store::keys;
use serde_json::{Value, json};

use crate::app::{TestedApp, peek_image_code};
use crate::counting::{self, CallCounter};
use crate::emulator::unique;
use crate::multipart::{Part, multipart};
use crate::response::Response;
use crate::sms::last_sms_code;

/// A browser-like client: keeps the cookies the API sets and sends them back.
#[derive(Clone)]
pub struct Client {
    app: Arc<TestedApp>,
    calls: CallCounter,
    /// An uncounted client on the same table, to read what a person would see.
    peek: (aws_sdk_dynamodb::Client, String),
    jar: HashMap<String, String>,
    bearer: Option<String>,
    /// The address API Gateway saw (`requestContext.http.sourceIp`): what budgets count per.
    source_ip: String,
}

pub struct Request<'a> {
    pub method: &'a str,
    pub path: &'a str,
    pub query: &'a [(&'a str, &'a str)],
    pub headers: &'a [(&'a str, &'a str)],
    pub body: Option<Vec<u8>>,
}

impl Client {
    /// A client without cookies; `peek` reads the table uncounted, as a person would look.
    pub fn new(app: Arc<TestedApp>, calls: CallCounter, peek: (aws_sdk_dynamodb::Client, String)) -> Self {
        Client { app, calls, peek, jar: HashMap::new(), bearer: None, source_ip: "203.0.113.7".into() }
    }

    /// Sends from another address (as API Gateway would report it).
    pub fn from_ip(&mut self, ip: &str) -> &mut Self {
        self.source_ip = ip.into();
        self
    }

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

    pub async fn delete_json(&mut self, path: &str, body: &Value) -> Response {
        self.send_json("DELETE", path, body).await
    }

    pub async fn put_json(&mut self, path: &str, body: &Value) -> Response {
        self.send_json("PUT", path, body).await
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
        self.send_json("POST", path, body).await
    }

    async fn send_json(&mut self, method: &str, path: &str, body: &Value) -> Response {
        let body = Some(body.to_string().into_bytes());
        self.send(Request { method, path, query: &[], headers: &[("content-type", "application/json")], body }).await
    }

    /// Sends a request as API Gateway would hand it to the function, and returns the response.
    pub async fn send(&mut self, req: Request<'_>) -> Response {
        let Some((route, params)) = Route::resolve(req.method, req.path) else {
            return Response::status_only(404);
        };
        let event = self.event(route, &params, &req);
        let request = lambda_http::request::from_str(&event.to_string()).expect("event parses");
        let resp = counting::CURRENT_ROUTE.scope(route, ihome_local::routes::handle(route, &self.app, request)).await;
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
                         "sourceIp": self.source_ip, "userAgent": "ihome-tests"},
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
            .key(keys::PK, AttributeValue::S(format!("{}{mobile}", keys::SMS_CODE_PREFIX)))
            .consistent_read(true)
            .send()
            .await
            .expect("read sms code");
        out.item.and_then(|i| i.get("code").and_then(|c| c.as_s().ok().cloned())).expect("sms code stored")
    }

    /// `times` logins to `mobile` with a wrong password, each refused as one (4004), not yet locked.
    pub async fn fail_logins(&mut self, mobile: &str, times: usize) {
        for _ in 0..times {
            self.post_json("/api/v1.0/sessions", &json!({"mobile": mobile, "password": "a wrong guess"}))
                .await
                .assert("4004", "用户名或密码错误");
        }
    }

    /// Captcha → a password reset code requested for `mobile` (`purpose=reset`): the answer.
    pub async fn request_reset(&mut self, mobile: &str) -> Response {
        let id = unique("img");
        let text = self.captcha_text(&id).await;
        let query = [("text", text.as_str()), ("id", id.as_str()), ("purpose", "reset")];
        self.get_query(&format!("/api/v1.0/smscode/{mobile}"), &query).await
    }

    /// Fetches a captcha image and returns its answer (read from the store, as a person reads it).
    pub async fn captcha_text(&mut self, id: &str) -> String {
        let r = self.get(&format!("/api/v1.0/imagecode/{id}")).await;
        assert_eq!(r.status, 200);
        assert_eq!(r.header("content-type"), Some("image/png"));
        peek_image_code(&self.peek.0, &self.peek.1, id).await.expect("captcha stored")
    }
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}
