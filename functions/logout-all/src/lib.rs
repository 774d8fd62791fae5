//! DELETE /user/sessions: ends every session of the user, this one included, and clears the cookie.

use lambda_http::{Body, Request, Response};

use ihome::app::App;
use ihome::error::ApiError;
use ihome::http;
use ihome::store::Store;

pub async fn handle<S: Store, M: Sync, A: Sync, L: Sync>(
    app: &App<S, M, A, L>,
    req: &Request,
) -> Result<Response<Body>, ApiError> {
    let token = http::require_token(req)?;
    // One conditional write: only a live session may end its user's sessions.
    let ended = app.store.end_all_sessions(&token, app.now()).await.map_err(ApiError::db("退出登录失败"))?;
    if !ended {
        return Err(ApiError::session());
    }
    tracing::info!(user_id = token.user_id().get(), "every session ended");
    let mut resp = http::ok_message("OK");
    http::clear_session_cookie(&mut resp, app.config.cookie_secure);
    Ok(resp)
}
