//! Route 4, POST /sessions: mobile and password in, a session out. Unknown mobiles and wrong passwords
//! look the same, in content and in time.

use lambda_http::{Body, Request, Response};
use serde::Deserialize;
use serde_json::json;

use ihome::app::App;
use ihome::domain::{Mobile, SessionToken};
use ihome::error::ApiError;
use ihome::http;
use ihome::limits::Limiter;
use ihome::metrics::{self, Metric};
use ihome::password_check;
use ihome::store::{NewSession, Store};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LoginBody {
    mobile: Option<String>,
    password: Option<String>,
}

pub async fn handle<S: Store, M: Sync, A: Sync, L: Limiter>(
    app: &App<S, M, A, L>,
    req: &Request,
) -> Result<Response<Body>, ApiError> {
    let body: LoginBody = http::json_body(req)?;
    let (Some(mobile), Some(password)) = (http::given(body.mobile), body.password.filter(|p| !p.is_empty())) else {
        return Err(ApiError::incomplete());
    };
    let mobile = Mobile::parse(mobile.trim()).ok_or_else(|| ApiError::param("手机号格式错误"))?;
    let cfg = &app.config;
    let now = app.now();

    // The attempt is counted before the password is checked, alongside the credentials read
    // (`password_check::Attempt`); then always one bcrypt verify at the configured cost, against
    // the user's hash or a dummy one.
    let (credentials, attempt) = password_check::Attempt::take(app, &mobile, http::client_ip(req)).await?;
    let hash = credentials.as_ref().map(|c| &c.password_hash);
    let matched = password_check::matches(app, &password, hash).await?;
    let (user_id, verified) = match credentials {
        Some(c) if matched => (c.user_id, c.password_hash),
        // The attempt stays counted.
        _ => {
            tracing::info!(mobile = %mobile.masked(), "login refused");
            metrics::emit(Metric::LoginFailed);
            return Err(ApiError::data_err("用户名或密码错误"));
        }
    };

    let token = SessionToken::generate(user_id);
    let session = NewSession::for_token(&token, now + cfg.session_ttl);
    // The session is added only if the password is still the one verified: a login that raced a
    // password change or reset does not outlive it. A success clears this address's count and
    // gives its unit of the mobile's budget back: what the windows keep are failures.
    let (saved, ()) = tokio::join!(app.store.add_session(&mobile, &verified, &session, now), attempt.settle(app));
    if !saved.map_err(ApiError::db("保存登录状态失败"))? {
        tracing::info!(user_id = user_id.get(), "login lost a race with a password change");
        return Err(ApiError::data_err("用户名或密码错误"));
    }
    tracing::info!(user_id = user_id.get(), "user logged in");
    let mut resp = http::ok_data(json!({ "user_id": user_id }));
    http::set_session_cookie(&mut resp, &token, cfg.session_ttl, cfg.cookie_secure);
    Ok(resp)
}
