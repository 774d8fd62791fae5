//! Route 6, POST /user/avatar: a JPEG, PNG, GIF or WebP (by its bytes) to S3, its URL to the user.

use lambda_http::{Body, Request, Response};
use serde_json::json;

use ihome::app::App;
use ihome::avatars::{self, AvatarStore};
use ihome::domain::AvatarImage;
use ihome::errno::Errno;
use ihome::error::ApiError;
use ihome::http;
use ihome::store::Store;
use tokio::sync::Semaphore;

/// Decodes running at once in this process. Each may take up to `AvatarImage::MAX_DECODE_BYTES`;
/// a Lambda container serves one request at a time, the local server many.
const DECODES_AT_ONCE: usize = 2;
static DECODES: Semaphore = Semaphore::const_new(DECODES_AT_ONCE);

pub async fn handle<S: Store, M: Sync, A: AvatarStore, L: Sync>(
    app: &App<S, M, A, L>,
    req: &Request,
) -> Result<Response<Body>, ApiError> {
    let token = http::require_token(req)?;
    // The session is read while the body is parsed; nothing is decoded before the caller is
    // known (a forged token must not buy a decode: hostile testing took a server to 5 GB so).
    let (auth, bytes) =
        tokio::join!(app.authenticate(&token), http::multipart_file(req, "avatar", AvatarImage::MAX_BYTES));
    let user_id = auth?.user.id;
    let image = decode(bytes?).await?;

    let key = avatars::new_key(&image);
    app.avatars.put(&key, &image).await.map_err(|e| ApiError::infra(Errno::ThirdErr, "上传图片失败", &e))?;
    let url = format!("{}{key}", app.config.avatar_base_url);
    let saved = app.store.set_avatar_url(user_id, &url).await;
    let old = match saved {
        Ok(Some(old)) => old,
        failed => {
            // Nothing may point at the new object: remove it again.
            if let Err(e) = app.avatars.delete(&key).await {
                tracing::error!(error = %e, "could not remove an unsaved avatar");
            }
            return Err(match failed {
                Err(e) => ApiError::db("保存图片信息失败")(e),
                _ => ApiError::no_data("无效操作"),
            });
        }
    };
    // The replaced avatar goes only now that the new URL is saved.
    let old_key = avatars::key_of(&old, &app.config.avatar_base_url);
    if let Some(old_key) = old_key
        && let Err(e) = app.avatars.delete(old_key).await
    {
        tracing::warn!(error = %e, "could not remove a replaced avatar");
    }
    tracing::info!(user_id = user_id.get(), content_type = image.content_type(), "avatar saved");
    Ok(http::ok_data(json!({ "avatar_url": url })))
}

/// Checks the upload decodes (bounded, off the executor), waiting for a decode slot first.
async fn decode(bytes: Vec<u8>) -> Result<AvatarImage, ApiError> {
    // Refused from the header alone before waiting for a slot: too large, not an image, too many pixels.
    AvatarImage::header(&bytes).map_err(|e| ApiError::param(e.message()))?;
    let _slot = DECODES.acquire().await.map_err(|e| ApiError::infra(Errno::ServerErr, "内部错误", &e))?;
    tokio::task::spawn_blocking(move || AvatarImage::parse(bytes))
        .await
        .map_err(|e| ApiError::infra(Errno::ServerErr, "内部错误", &e))?
        .map_err(|e| ApiError::param(e.message()))
}
