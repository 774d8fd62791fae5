//! POST /password/reset: a reset code (`GET /smscode/<mobile>?purpose=reset`) and a new password.
//! The code is consumed, the password set and every session of the account ended, together.

use lambda_http::{Body, Request, Response};

use ihome::app::App;
use ihome::domain::SmsPurpose;
use ihome::error::ApiError;
use ihome::forms;
use ihome::http;
use ihome::limits::{self, Budget, Counter, Limiter, Subject};
use ihome::password_check;
use ihome::store::{PasswordReset, Store};

pub async fn handle<S: Store, M: Sync, A: Sync, L: Limiter>(
    app: &App<S, M, A, L>,
    req: &Request,
) -> Result<Response<Body>, ApiError> {
    let (mobile, sms_code, password) = forms::code_and_password(req)?;
    let cfg = &app.config;
    let now = app.now();

    // As registration: the address's budget and one of the code's tries are taken (and the
    // account read) in one round trip, before bcrypt runs.
    let budget = [Counter::new(Budget::ResetPerIp, Subject::Ip(http::client_ip(req)), &cfg.limits)];
    let (allowed, stored, credentials) = tokio::join!(
        limits::take_or_refuse(&app.limiter, &budget, now),
        app.store.check_out_sms(&mobile, SmsPurpose::Reset, now, cfg.sms_max_attempts),
        app.store.credentials(&mobile)
    );
    allowed?;
    let stored =
        stored.map_err(ApiError::db("查询短信验证码失败"))?.ok_or_else(|| ApiError::no_data("短信验证码已过期"))?;
    // A mobile without an account was never sent its code: the same answer as a wrong one.
    let credentials = credentials.map_err(ApiError::db("查询用户信息失败"))?;
    let (true, Some(credentials)) = (stored == sms_code, credentials) else {
        return Err(ApiError::data_err("短信验证码错误"));
    };
    let new_hash = password_check::hash(password, cfg.bcrypt_cost).await?;
    // The right code proves the mobile is the caller's: the login lock of this address goes too
    // (else a locked-out owner who just reset would still wait out the window).
    let (reset, cleared) = tokio::join!(
        app.store.reset_password(&mobile, credentials.user_id, &sms_code, &new_hash),
        app.store.clear_login_failures(&mobile, http::client_ip(req))
    );
    if let Err(e) = cleared {
        tracing::warn!(error = %e, "could not clear login failures");
    }
    match reset.map_err(ApiError::db("保存密码失败"))? {
        PasswordReset::Reset => {
            tracing::info!(user_id = credentials.user_id.get(), "password reset");
            let mut resp = http::ok_message("密码已重置");
            http::clear_session_cookie(&mut resp, cfg.cookie_secure);
            Ok(resp)
        }
        PasswordReset::CodeGone => Err(ApiError::no_data("短信验证码已过期")),
        PasswordReset::NoAccount => Err(ApiError::data_err("短信验证码错误")),
    }
}
