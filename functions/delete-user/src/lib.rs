//! DELETE /user: with the password (checked like a login attempt), the account goes: the avatar
//! object, then in one transaction the user (its sessions and real-name data with it), the
//! mobile's credentials and the name's guard. The mobile may register again.
//!
//! Why this order: the object is deleted first (idempotent), so a failure after it leaves a whole
//! account without its picture, which the user's retry deletes; the other order could leave a
//! picture of a deleted account that nothing points at any more. Nothing personal is logged.

use lambda_http::{Body, Request, Response};
use serde::Deserialize;

use ihome::app::App;
use ihome::avatars::{self, AvatarStore};
use ihome::domain::SessionToken;
use ihome::errno::Errno;
use ihome::error::ApiError;
use ihome::http;
use ihome::limits::Limiter;
use ihome::password_check;
use ihome::store::{AccountDeletion, Authenticated, Store};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DeleteBody {
    password: Option<String>,
}

pub async fn handle<S: Store, M: Sync, A: AvatarStore, L: Limiter>(
    app: &App<S, M, A, L>,
    req: &Request,
) -> Result<Response<Body>, ApiError> {
    let token = http::require_token(req)?;
    let auth = app.authenticate(&token).await?;
    let body: DeleteBody = http::json_body(req)?;
    let password = body.password.filter(|p| !p.is_empty()).ok_or_else(ApiError::incomplete)?;
    let verified = password_check::verify_user(app, req, &auth.user, &password).await?;

    // The attempt is settled (the password matched) alongside the deletion.
    let (deleted, ()) = tokio::join!(delete_account(app, &token, auth), verified.attempt.settle(app));
    deleted?;
    tracing::info!("account deleted");
    let mut resp = http::ok_message("账号已注销");
    http::clear_session_cookie(&mut resp, app.config.cookie_secure);
    Ok(resp)
}

/// The avatar object, then the items. The user as read must still be the user as deleted (a
/// racing rename or upload would leave a guard or an object behind): read again and retry.
async fn delete_account<S: Store, M: Sync, A: AvatarStore, L: Sync>(
    app: &App<S, M, A, L>,
    token: &SessionToken,
    mut auth: Authenticated,
) -> Result<(), ApiError> {
    for attempt in 0..3 {
        if attempt > 0 {
            auth = app.authenticate(token).await?;
        }
        if let Some(key) = avatars::key_of(&auth.user.avatar_url, &app.config.avatar_base_url) {
            app.avatars.delete(key).await.map_err(|e| ApiError::infra(Errno::ThirdErr, "删除头像失败", &e))?;
        }
        let deleted = app.store.delete_user(&auth, token, app.now()).await.map_err(ApiError::db("注销账号失败"))?;
        if deleted == AccountDeletion::Deleted {
            return Ok(());
        }
    }
    Err(ApiError::infra(Errno::DbErr, "注销账号失败", &"delete user: retries exhausted"))
}
