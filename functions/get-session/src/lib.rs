//! Route 11, GET /session: who is logged in, for every page's header.

use lambda_http::{Body, Request, Response};
use serde_json::json;

use ihome::app::App;
use ihome::error::ApiError;
use ihome::http;
use ihome::store::Store;

pub async fn handle<S: Store, M: Sync, A: Sync, L: Sync>(
    app: &App<S, M, A, L>,
    req: &Request,
) -> Result<Response<Body>, ApiError> {
    let auth = app.authenticate(&http::require_token(req)?).await?;
    // A session whose user is gone is no login.
    let user = auth.user;
    Ok(http::ok_data(json!({ "user_id": user.id, "name": user.name })))
}
