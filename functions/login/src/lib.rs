//! Route 4, POST /sessions: mobile and password in, a session out. Unknown mobiles and wrong passwords
//! look the same, in content and in time.

use lambda_http::{Body, Request, Response};
use serde::Deserialize;
use serde_json::json;

use ihome::app::App;
use ihome::domain::{Mobile, Password, SessionToken};
use ihome::errno::Errno;
use ihome::error::ApiError;
use ihome::http;
use ihome::limits::{self, Budget, Counter, Limiter, Subject};
use ihome::metrics::{self, Metric};
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

    // The attempt is counted before the password is checked, in parallel with the credentials
    // read: per mobile from this address (5 per 10 minutes, so another address's failures cannot
    // lock the owner out) and per mobile from all addresses (a slow, spread-out guessing budget).
    // A burst of guesses gets no more than the limits, however many race.
    let from = http::client_ip(req);
    let budget = [Counter::new(Budget::LoginPerMobile, Subject::Mobile(mobile.clone()), &cfg.limits)];
    let (credentials, allowed, taken) = tokio::join!(
        app.store.credentials(&mobile),
        app.store.reserve_login_attempt(&mobile, from, now, cfg.login_failure_window, cfg.login_max_failures),
        limits::take_or_refuse(&app.limiter, &budget, now)
    );
    let refused = match allowed {
        Ok(true) => None,
        Ok(false) => Some(ApiError::req("错误次数过多，请稍后重试")),
        Err(e) => Some(ApiError::db("查询用户信息失败")(e)),
    };
    if let Some(refused) = refused {
        // No password is checked: the mobile's unit goes back.
        if taken.is_ok() {
            limits::give_back(&app.limiter, &budget, now).await;
        }
        return Err(refused);
    }
    taken?;
    let credentials = credentials.map_err(ApiError::db("查询用户信息失败"))?;

    // Always one bcrypt verify at the configured cost: against the user's hash, or a dummy one.
    let (hash, user_id) = match &credentials {
        Some(c) => (c.password_hash.clone(), Some(c.user_id)),
        None => (app.dummy_hash.clone(), None),
    };
    // A password no account could have (too short or long) still costs one verify.
    let password = Password::parse(&password).ok();
    let dummy = app.dummy_hash.clone();
    let matched = tokio::task::spawn_blocking(move || match password {
        Some(p) => p.verify(&hash),
        None => {
            let _ = Password::parse("timing-equaliser").map(|p| p.verify(&dummy));
            false
        }
    })
    .await
    .map_err(|e| ApiError::infra(Errno::ServerErr, "内部错误", &e))?;

    let user_id = match (matched, user_id) {
        (true, Some(id)) => id,
        // The attempt is already counted.
        _ => {
            tracing::info!(mobile = %mobile.masked(), "login refused");
            metrics::emit(Metric::LoginFailed);
            return Err(ApiError::data_err("用户名或密码错误"));
        }
    };

    let token = SessionToken::generate(user_id);
    let session = NewSession::for_token(&token, now + cfg.session_ttl);
    // A success clears this address's count and gives its unit of the mobile's budget back: what
    // the windows keep are failures.
    let (saved, cleared, ()) = tokio::join!(
        app.store.put_session(&session),
        app.store.clear_login_failures(&mobile, from),
        limits::give_back(&app.limiter, &budget, now)
    );
    saved.map_err(ApiError::db("保存登录状态失败"))?;
    if let Err(e) = cleared {
        tracing::warn!(error = %e, "could not clear login failures");
    }
    tracing::info!(user_id = user_id.get(), "user logged in");
    let mut resp = http::ok_data(json!({ "user_id": user_id }));
    http::set_session_cookie(&mut resp, &token, cfg.session_ttl, cfg.cookie_secure);
    Ok(resp)
}
