//! What a route answered, with readers for the errno envelope.

use serde_json::Value;

pub struct Response {
    pub status: u16,
    pub headers: http::HeaderMap,
    pub body: Vec<u8>,
    pub set_cookies: Vec<String>,
}

impl Response {
    pub(crate) fn status_only(status: u16) -> Self {
        Response { status, headers: http::HeaderMap::new(), body: vec![], set_cookies: vec![] }
    }

    pub(crate) fn from_http(resp: http::Response<lambda_http::Body>) -> Self {
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
