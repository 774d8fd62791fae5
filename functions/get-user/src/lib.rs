//! Route 5, GET /user: the logged-in user's profile.

use lambda_http::{Body, Request, Response};

use ihome::app::App;
use ihome::error::ApiError;
use ihome::http;
use ihome::store::Store;

pub async fn handle<S: Store, M: Sync, A: Sync, L: Sync>(
    app: &App<S, M, A, L>,
    req: &Request,
) -> Result<Response<Body>, ApiError> {
    let auth = app.authenticate(&http::require_token(req)?).await?;
    let user = auth.user;
    Ok(http::ok_data(user.to_dict(app.config.utc_offset_hours)))
}
