//! Route 8, POST /user/auth: real name and ID number, set once.

use lambda_http::{Body, Request, Response};
use serde::Deserialize;

use ihome::app::App;
use ihome::domain::{IdCard, RealName};
use ihome::error::ApiError;
use ihome::http;
use ihome::store::Store;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AuthBody {
    real_name: Option<String>,
    id_card: Option<String>,
}

pub async fn handle<S: Store, M: Sync, A: Sync, L: Sync>(
    app: &App<S, M, A, L>,
    req: &Request,
) -> Result<Response<Body>, ApiError> {
    // Login first, as the original's `@login_required`: an ended session is SESSIONERR whatever
    // the body, and nothing a caller sends is judged before it is known.
    let token = http::require_token(req)?;
    let user = app.authenticate(&token).await?.user;
    let body: AuthBody = http::json_body(req)?;
    let (Some(real_name), Some(id_card)) = (http::given(body.real_name), http::given(body.id_card)) else {
        return Err(ApiError::incomplete());
    };
    let real_name = RealName::parse(&real_name).ok_or_else(|| ApiError::param("真实姓名格式错误"))?;
    let id_card = IdCard::parse(&id_card, app.today()).ok_or_else(|| ApiError::param("身份证号码格式错误"))?;

    if user.real_name.is_some() {
        return Err(ApiError::data_exist("已实名认证"));
    }
    // The condition, not the read above, keeps it set-once when requests race.
    let set =
        app.store.set_real_name(user.id, &real_name, &id_card).await.map_err(ApiError::db("保存用户实名信息失败"))?;
    if !set {
        // Set first by a racing request, or the account was deleted meanwhile: the set-once
        // condition cannot tell them apart, the session can (it went with the account).
        app.authenticate(&token).await?;
        return Err(ApiError::data_exist("已实名认证"));
    }
    tracing::info!(user_id = user.id.get(), "real name verified");
    Ok(http::ok_message("OK"))
}
