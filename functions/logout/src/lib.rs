//! Route 10, DELETE /session (and /sessions): ends the session server-side and clears the cookie.

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
    let ended = app.store.end_session(&token, app.now()).await.map_err(ApiError::db("退出登录失败"))?;
    if !ended {
        return Err(ApiError::session());
    }
    let mut resp = http::ok_message("OK");
    http::clear_session_cookie(&mut resp, app.config.cookie_secure);
    Ok(resp)
}
