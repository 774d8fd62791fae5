//! PUT /user/password: the old password (checked like a login attempt) and a new one, under the
//! rules of registration. Every other session of the user ends; this one stays.

use lambda_http::{Body, Request, Response};
use serde::Deserialize;

use ihome::app::App;
use ihome::domain::Password;
use ihome::errno::Errno;
use ihome::error::ApiError;
use ihome::http;
use ihome::limits::Limiter;
use ihome::password_check;
use ihome::store::{PasswordChange, Store};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PasswordBody {
    old_password: Option<String>,
    new_password: Option<String>,
}

pub async fn handle<S: Store, M: Sync, A: Sync, L: Limiter>(
    app: &App<S, M, A, L>,
    req: &Request,
) -> Result<Response<Body>, ApiError> {
    // The session first (SESSIONERR whatever the body), then the body, then the costly checks.
    let token = http::require_token(req)?;
    let auth = app.authenticate(&token).await?;
    let body: PasswordBody = http::json_body(req)?;
    let (Some(old), Some(new)) =
        (body.old_password.filter(|p| !p.is_empty()), body.new_password.filter(|p| !p.is_empty()))
    else {
        return Err(ApiError::incomplete());
    };
    // A new password that registration would refuse is refused before any bcrypt.
    let new = Password::parse(&new).map_err(|e| ApiError::param(e.message()))?;

    let verified = password_check::verify_user(app, req, &auth.user, &old).await?;
    let new_hash = password_check::hash(new, app.config.bcrypt_cost).await?;
    let (changed, ()) = tokio::join!(
        app.store.change_password(&auth, &token, &verified.hash, &new_hash, app.now()),
        verified.attempt.settle(app)
    );
    match changed.map_err(ApiError::db("保存密码失败"))? {
        PasswordChange::Changed => {
            tracing::info!(user_id = auth.user.id.get(), "password changed");
            Ok(http::ok_message("密码已修改"))
        }
        // Changed or reset by another request since it was checked: the old one is wrong now.
        PasswordChange::Stale => Err(ApiError::new(Errno::PwdErr, "密码错误")),
        PasswordChange::SessionEnded => Err(ApiError::session()),
    }
}
