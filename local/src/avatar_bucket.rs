//! `ihome-local --aws`: avatars read from the avatar bucket and served at `/avatars/…`, as the
//! stack's CloudFront distribution serves them. The bucket stays private, as in the stack: this
//! server reads it with the credentials it already runs on (S3 GetObject); the browser never
//! talks to the bucket, and no Lambda function needs `s3:GetObject`.

use bytes::Bytes;
use http::{HeaderValue, Response, StatusCode, header};
use http_body_util::Full;
use ihome::avatars::{CACHE_CONTROL, KEY_PREFIX};

use crate::server::MAX_BODY;

/// The extensions `avatars::new_key` gives (`AvatarImage::extension`) and the one type the upload
/// route stores for each (`AvatarImage::content_type`).
const TYPES: [(&str, &str); 4] =
    [("jpg", "image/jpeg"), ("png", "image/png"), ("gif", "image/gif"), ("webp", "image/webp")];

/// Hex digits in a key: 128 random bits.
const KEY_HEX_LEN: usize = 32;

/// The bucket the avatars are read from: a client of its own, on the server's SDK settings.
#[derive(Debug, Clone)]
pub struct AvatarBucket {
    client: aws_sdk_s3::Client,
    bucket: String,
}

/// The image type of a name of the shape `avatars::new_key` makes after its prefix (32 lowercase
/// hex digits, a dot, one of the upload route's extensions); `None` for any other name, so no
/// request reaches another object of the bucket (`..`, other prefixes, the listing).
pub fn avatar_type(name: &str) -> Option<&'static str> {
    let (hex, ext) = name.split_once('.')?;
    let hex_ok = hex.len() == KEY_HEX_LEN && hex.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    if !hex_ok {
        return None;
    }
    TYPES.iter().find(|(e, _)| *e == ext).map(|(_, t)| *t)
}

fn status(status: StatusCode, text: &'static str) -> Response<Full<Bytes>> {
    let mut resp = Response::new(Full::new(Bytes::from_static(text.as_bytes())));
    *resp.status_mut() = status;
    resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"));
    resp
}

fn not_found() -> Response<Full<Bytes>> {
    status(StatusCode::NOT_FOUND, "Not Found")
}

/// The bucket could not be read (unreachable, credentials refused, …): the server's log says why.
fn bad_gateway() -> Response<Full<Bytes>> {
    status(StatusCode::BAD_GATEWAY, "Bad Gateway")
}

impl AvatarBucket {
    pub fn new(client: aws_sdk_s3::Client, bucket: impl Into<String>) -> Self {
        AvatarBucket { client, bucket: bucket.into() }
    }

    /// The answer to `GET /avatars/<name>` (`name` as it is in the request's path, undecoded):
    /// the object `avatars/<name>` with its stored `Content-Type` and `Cache-Control` (the long
    /// cache the upload route sets, when the object has none), `X-Content-Type-Options: nosniff`,
    /// its `ETag` and `Last-Modified`; 404 when it is missing or `name` is not an avatar key's.
    /// The type is the one the upload route stores for the key's extension whatever else an
    /// object says, so nothing in the bucket is ever served as a page of this origin.
    pub async fn serve(&self, name: &str) -> Response<Full<Bytes>> {
        let Some(image_type) = avatar_type(name) else { return not_found() };
        let key = format!("{KEY_PREFIX}{name}");
        let object = match self.client.get_object().bucket(&self.bucket).key(&key).send().await {
            Ok(object) => object,
            Err(e) => {
                let missing = e.as_service_error().is_some_and(|s| s.is_no_such_key())
                    || e.raw_response().is_some_and(|r| r.status().as_u16() == 404);
                if missing {
                    return not_found();
                }
                tracing::warn!(bucket = %self.bucket, key, error = %aws_sdk_s3::error::DisplayErrorContext(&e), "cannot read an avatar");
                return bad_gateway();
            }
        };
        // No upload is larger than a request body may be: anything bigger is not an avatar, and
        // is not read into memory.
        if object.content_length().is_some_and(|n| n > MAX_BODY as i64) {
            tracing::warn!(bucket = %self.bucket, key, size = object.content_length(), "not serving an oversized object");
            return bad_gateway();
        }
        // The upload route stores the type it found in the bytes, and the key carries its
        // extension: the two agree. An object put there otherwise is served as its key's type.
        if object.content_type() != Some(image_type) {
            tracing::warn!(bucket = %self.bucket, key, stored = object.content_type(), served = image_type, "an avatar's stored type is not its key's");
        }
        let cache_control = object.cache_control().unwrap_or(CACHE_CONTROL).to_owned();
        let etag = object.e_tag().map(str::to_owned);
        let last_modified =
            object.last_modified().and_then(|t| t.fmt(aws_sdk_s3::primitives::DateTimeFormat::HttpDate).ok());
        let bytes = match object.body.collect().await {
            Ok(body) => body.into_bytes(),
            Err(e) => {
                tracing::warn!(bucket = %self.bucket, key, error = %e, "cannot read an avatar's body");
                return bad_gateway();
            }
        };
        let mut resp = Response::new(Full::new(bytes));
        let headers = resp.headers_mut();
        let mut set = |name: header::HeaderName, value: &str| {
            if let Ok(v) = HeaderValue::from_str(value) {
                headers.insert(name, v);
            }
        };
        set(header::CONTENT_TYPE, image_type);
        set(header::CACHE_CONTROL, &cache_control);
        set(header::X_CONTENT_TYPE_OPTIONS, "nosniff");
        if let Some(etag) = &etag {
            set(header::ETAG, etag);
        }
        if let Some(date) = &last_modified {
            set(header::LAST_MODIFIED, date);
        }
        resp
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_avatar_key_names_are_served() {
        let hex = "0123456789abcdef0123456789abcdef";
        for (ext, t) in TYPES {
            assert_eq!(avatar_type(&format!("{hex}.{ext}")), Some(t));
        }
        let bad = [
            String::new(),
            "../secret.txt".into(),
            format!("../{hex}.png"),
            format!("{hex}.png/"),
            format!("{hex}.png.png"),
            format!("{hex}.PNG"),
            format!("{hex}.txt"),
            format!("{hex}.html"),
            hex.to_owned(),
            format!("{}.png", hex.to_uppercase()),
            format!("{}.png", &hex[1..]),
            format!("{hex}0.png"),
            format!("%2e%2e%2f{hex}.png"),
            format!("sub/{hex}.png"),
            "notes.txt".into(),
        ];
        for name in bad {
            assert_eq!(avatar_type(&name), None, "{name:?}");
        }
    }
}
