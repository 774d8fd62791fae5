//! Request parsing and response building shared by every route: JSON bodies, path and query
//! parameters, the session token (cookie or bearer), envelopes and cookies.

use http::header::{AUTHORIZATION, CACHE_CONTROL, CONTENT_TYPE, COOKIE, SET_COOKIE};
use http::{HeaderValue, StatusCode};
use lambda_http::{Body, Request, RequestExt, Response};
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::domain::{ClientIp, SessionToken};
use crate::errno::{Envelope, Errno};
use crate::error::ApiError;

pub const SESSION_COOKIE: &str = "session";
/// JSON bodies above this are refused (API.md: 64 KiB).
pub const MAX_JSON_BODY: usize = 64 * 1024;

/// A route's JSON body as `T`: `application/json`, at most 64 KiB, UTF-8, a JSON object whose
/// fields fit `T`. Every way of failing is a PARAMERR that says which.
pub fn json_body<T: DeserializeOwned>(req: &Request) -> Result<T, ApiError> {
    let content_type = req.headers().get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default();
    let mime = content_type.split(';').next().unwrap_or_default().trim();
    if !mime.eq_ignore_ascii_case("application/json") {
        return Err(ApiError::param("请求格式错误，应为 application/json"));
    }
    let bytes: &[u8] = req.body().as_ref();
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::incomplete());
    }
    if bytes.len() > MAX_JSON_BODY {
        return Err(ApiError::param("请求数据过大"));
    }
    let text = std::str::from_utf8(bytes).map_err(|_| ApiError::param("请求数据不是有效的UTF-8文本"))?;
    // Through a map first: serde would otherwise accept a JSON array as a struct, by position.
    let object: serde_json::Map<String, Value> =
        serde_json::from_str(text).map_err(|_| ApiError::param("请求数据不是有效的JSON对象"))?;
    serde_json::from_value(Value::Object(object)).map_err(|_| ApiError::param("参数格式错误"))
}

/// The bytes of the one file field `field` of a `multipart/form-data` body (a maintained parser,
/// multer, does the parsing). Other fields are read and ignored; a second `field` part, a part
/// over `max` bytes, or a malformed body is a PARAMERR that says which.
pub async fn multipart_file(req: &Request, field: &str, max: usize) -> Result<Vec<u8>, ApiError> {
    let content_type = req.headers().get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default();
    let boundary =
        multer::parse_boundary(content_type).map_err(|_| ApiError::param("请求格式错误，应为 multipart/form-data"))?;
    // Room for the part headers and other small fields around the file.
    const OVERHEAD: usize = 64 * 1024;
    let body = req.body().as_ref();
    if body.len() > max + OVERHEAD {
        return Err(ApiError::param("图片过大"));
    }
    let body = bytes::Bytes::copy_from_slice(body);
    let stream = futures_util::stream::once(async move { Ok::<_, std::convert::Infallible>(body) });
    let limits = multer::SizeLimit::new().whole_stream((max + OVERHEAD) as u64).per_field(max as u64 + 1);
    let mut parts =
        multer::Multipart::with_constraints(stream, boundary, multer::Constraints::new().size_limit(limits));
    let malformed = |e: multer::Error| match e {
        multer::Error::FieldSizeExceeded { .. } | multer::Error::StreamSizeExceeded { .. } => {
            ApiError::param("图片过大")
        }
        _ => ApiError::param("上传数据格式错误"),
    };
    let mut file = None;
    while let Some(part) = parts.next_field().await.map_err(malformed)? {
        let wanted = part.name() == Some(field);
        let data = part.bytes().await.map_err(malformed)?;
        if wanted {
            if file.is_some() {
                return Err(ApiError::param("只能上传一张图片"));
            }
            if data.len() > max {
                return Err(ApiError::param("图片过大"));
            }
            file = Some(data.to_vec());
        }
    }
    file.ok_or_else(|| ApiError::param("未上传图片"))
}

/// A required text field: absent, null, or blank all mean "not given".
pub fn given(field: Option<String>) -> Option<String> {
    field.filter(|s| !s.trim().is_empty())
}

pub fn path_param(req: &Request, name: &str) -> Option<String> {
    req.path_parameters().first(name).map(str::to_owned)
}

pub fn query_param(req: &Request, name: &str) -> Option<String> {
    given(req.query_string_parameters().first(name).map(str::to_owned))
}

/// The caller's address: API Gateway's source IP (the TCP peer it saw), which a client cannot
/// write, unlike `X-Forwarded-For`. `None` only outside API Gateway and the local server.
pub fn client_ip(req: &Request) -> Option<ClientIp> {
    use lambda_http::request::RequestContext;
    match req.request_context_ref()? {
        RequestContext::ApiGatewayV2(ctx) => ctx.http.source_ip.as_deref().and_then(ClientIp::parse),
        // The HTTP API's payload 2.0 is the only event this crate is built for.
        #[allow(unreachable_patterns)]
        _ => None,
    }
}

/// The session token of a login route: SESSIONERR at once, before any I/O, when there is none.
pub fn require_token(req: &Request) -> Result<SessionToken, ApiError> {
    session_token(req).ok_or_else(ApiError::session)
}

/// The session token: `Authorization: Bearer <token>` first, else the `session` cookie.
pub fn session_token(req: &Request) -> Option<SessionToken> {
    let bearer = req.headers().get_all(AUTHORIZATION).iter().filter_map(|v| v.to_str().ok()).find_map(|v| {
        let (scheme, token) = v.trim().split_once(' ')?;
        scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
    });
    if let Some(token) = bearer {
        return SessionToken::parse(token);
    }
    // API Gateway's cookies array is re-joined into one header (with "; " or ";" by version):
    // split on ';' and trim, across every Cookie header.
    req.headers()
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .filter(|(name, _)| *name == SESSION_COOKIE)
        .find_map(|(_, value)| SessionToken::parse(value.trim_matches('"')))
}

fn json_response<T: serde::Serialize>(envelope: &Envelope<'_, T>) -> Response<Body> {
    let body = serde_json::to_string(envelope).unwrap_or_else(|_| r#"{"errno":"4500","errmsg":"内部错误"}"#.to_owned());
    let mut resp = Response::new(Body::Text(body));
    let headers = resp.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json; charset=utf-8"));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

/// OK with a message and no data.
pub fn ok_message(message: &str) -> Response<Body> {
    json_response(&Envelope::<()>::new(Errno::Ok, message, None))
}

/// OK with `data`.
pub fn ok_data(data: Value) -> Response<Body> {
    json_response(&Envelope::new(Errno::Ok, "OK", Some(data)))
}

/// The one place an error becomes a response: HTTP 200 with its errno and message.
pub fn error_response(err: &ApiError) -> Response<Body> {
    json_response(&Envelope::<()>::new(err.errno(), err.message(), None))
}

/// A binary response (the captcha): lambda_http base64-encodes it for API Gateway.
pub fn image(content_type: &'static str, bytes: Vec<u8>) -> Response<Body> {
    let mut resp = Response::new(Body::Binary(bytes));
    *resp.status_mut() = StatusCode::OK;
    let headers = resp.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

/// `session=<token>; Path=/; HttpOnly; Secure; SameSite=Lax; Max-Age=<secs>`.
pub fn set_session_cookie(resp: &mut Response<Body>, token: &SessionToken, max_age: i64, secure: bool) {
    add_cookie(resp, &token.expose(), max_age, secure);
}

/// Expires the session cookie in the browser (`Max-Age=0`).
pub fn clear_session_cookie(resp: &mut Response<Body>, secure: bool) {
    add_cookie(resp, "", 0, secure);
}

fn add_cookie(resp: &mut Response<Body>, value: &str, max_age: i64, secure: bool) {
    let secure = if secure { " Secure;" } else { "" };
    let cookie = format!("{SESSION_COOKIE}={value}; Path=/; HttpOnly;{secure} SameSite=Lax; Max-Age={max_age}");
    // Token characters are base64url and digits: always a valid header value.
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        resp.headers_mut().append(SET_COOKIE, v);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::UserId;

    fn req_with(header: http::HeaderName, value: &str) -> Request {
        http::Request::builder().header(header, value).body(Body::Empty).unwrap()
    }

    #[test]
    fn token_from_cookie_with_either_separator() {
        let t = SessionToken::generate(UserId::new(9).unwrap());
        for header in [
            format!("a=1; session={}; b=2", t.expose()),
            format!("a=1;session={};b=2", t.expose()),
            format!("session=\"{}\"", t.expose()),
            format!("session=bogus; session={}", t.expose()),
        ] {
            assert_eq!(session_token(&req_with(COOKIE, &header)), Some(t.clone()), "{header}");
        }
        assert_eq!(session_token(&req_with(COOKIE, "other=1")), None);
    }

    #[test]
    fn bearer_wins_and_scheme_is_case_insensitive() {
        let t = SessionToken::generate(UserId::new(9).unwrap());
        assert_eq!(session_token(&req_with(AUTHORIZATION, &format!("bearer {}", t.expose()))), Some(t.clone()));
        assert_eq!(session_token(&req_with(AUTHORIZATION, "Basic abc")), None);
    }

    #[test]
    fn cookie_attributes() {
        let t = SessionToken::generate(UserId::new(9).unwrap());
        let mut resp = ok_message("OK");
        set_session_cookie(&mut resp, &t, 86_400, true);
        let v = resp.headers()[SET_COOKIE].to_str().unwrap().to_owned();
        assert_eq!(v, format!("session={}; Path=/; HttpOnly; Secure; SameSite=Lax; Max-Age=86400", t.expose()));
        let mut resp = ok_message("OK");
        clear_session_cookie(&mut resp, false);
        assert_eq!(resp.headers()[SET_COOKIE], "session=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0");
    }
}
