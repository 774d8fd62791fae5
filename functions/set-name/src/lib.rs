//! Route 7, PUT /user/name: a new display name, unique across users.

use lambda_http::{Body, Request, Response};
use serde::Deserialize;
use serde_json::json;

use ihome::app::App;
use ihome::domain::UserName;
use ihome::errno::Errno;
use ihome::error::ApiError;
use ihome::http;
use ihome::store::{RenameError, Store};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NameBody {
    name: Option<String>,
}

pub async fn handle<S: Store, M: Sync, A: Sync, L: Sync>(
    app: &App<S, M, A, L>,
    req: &Request,
) -> Result<Response<Body>, ApiError> {
    // Login first, as the original's `@login_required`: an ended session is SESSIONERR whatever
    // the body, and nothing a caller sends is judged before it is known.
    let token = http::require_token(req)?;
    let mut user = app.authenticate(&token).await?.user;
    let body: NameBody = http::json_body(req)?;
    let name = http::given(body.name).ok_or_else(ApiError::incomplete)?;
    let name = UserName::try_parse(&name).map_err(|e| ApiError::param(e.message()))?;

    // Read again after a concurrent change of the same user's name, a few times at most.
    for attempt in 0..3 {
        if attempt > 0 {
            user = app.authenticate(&token).await?.user;
        }
        if user.name == name.as_str() {
            return Ok(http::ok_data(json!({ "name": name.as_str() })));
        }
        if name.is_mobile_shaped() && name.as_str() != user.mobile.as_str() {
            return Err(ApiError::param("不能使用他人的手机号作为用户名"));
        }
        match app.store.rename(&user, &name).await {
            Ok(()) => {
                tracing::info!(user_id = user.id.get(), "name changed");
                return Ok(http::ok_data(json!({ "name": name.as_str() })));
            }
            // DBERR, not DATAEXIST: the iHome profile page shows "用户名已存在" only for 4001.
            Err(RenameError::Taken) => return Err(ApiError::new(Errno::DbErr, "用户名已存在")),
            Err(RenameError::Conflict) => continue,
            Err(RenameError::Store(e)) => return Err(ApiError::db("保存用户信息失败")(e)),
        }
    }
    Err(ApiError::infra(Errno::DbErr, "保存用户信息失败", &"rename: retries exhausted"))
}
