//! Files from a folder: the iHome frontend (`--static`) and local avatars.

use std::path::{Component, Path};

use bytes::Bytes;
use http::{HeaderValue, Response, StatusCode, header};
use http_body_util::Full;

fn not_found() -> Response<Full<Bytes>> {
    let mut resp = Response::new(Full::new(Bytes::from_static(b"Not Found")));
    *resp.status_mut() = StatusCode::NOT_FOUND;
    resp
}

/// The file `rel` under `root`; `index.html` for folders. Paths that would leave `root` (`..`,
/// absolute parts) are not found. Avatars get a long cache, like their CloudFront copies.
pub async fn file(root: &Path, rel: &str, immutable: bool) -> Response<Full<Bytes>> {
    let decoded = percent_encoding::percent_decode_str(rel).decode_utf8_lossy().into_owned();
    let rel = Path::new(&decoded);
    if rel.components().any(|c| !matches!(c, Component::Normal(_))) {
        return not_found();
    }
    let mut path = root.join(rel);
    if path.is_dir() {
        path = path.join("index.html");
    }
    let Ok(bytes) = tokio::fs::read(&path).await else { return not_found() };
    let mime = mime_guess::from_path(&path).first_or_octet_stream();
    let mut resp = Response::new(Full::new(Bytes::from(bytes)));
    if let Ok(v) = HeaderValue::from_str(mime.essence_str()) {
        resp.headers_mut().insert(header::CONTENT_TYPE, v);
    }
    let cache = if immutable { "public, max-age=31536000, immutable" } else { "no-cache" };
    resp.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    // The type comes from the file name (avatars: from their bytes, when uploaded); a browser must
    // not guess another from the content.
    resp.headers_mut().insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    resp
}
