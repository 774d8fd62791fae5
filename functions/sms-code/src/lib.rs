//! Route 2, GET /smscode/{mobile}?text=&id=: checks the one-time captcha, then sends a 6-digit code.

use lambda_http::{Body, Request, Response};

use ihome::app::App;
use ihome::domain::{ImageCodeId, Mobile, SmsCode};
use ihome::errno::Errno;
use ihome::error::ApiError;
use ihome::http;
use ihome::limits::{self, Budget, Counter, Limiter, Subject};
use ihome::metrics::{self, Metric};
use ihome::sms::{self, SmsSender};
use ihome::store::Store;

pub async fn handle<S: Store, M: SmsSender, A: Sync, L: Limiter>(
    app: &App<S, M, A, L>,
    req: &Request,
) -> Result<Response<Body>, ApiError> {
    let (Some(mobile), Some(text), Some(id)) =
        (http::path_param(req, "mobile"), http::query_param(req, "text"), http::query_param(req, "id"))
    else {
        return Err(ApiError::incomplete());
    };
    let mobile = Mobile::parse(&mobile).ok_or_else(|| ApiError::param("手机号格式错误"))?;
    let id = ImageCodeId::parse(&id).ok_or_else(|| ApiError::param("图片验证码编号格式错误"))?;
    let now = app.now();

    // The captcha is consumed by this attempt, right or wrong; the mobile check runs alongside.
    let (captcha, registered) = tokio::join!(app.store.take_image_code(&id, now), app.store.mobile_registered(&mobile));
    let captcha =
        captcha.map_err(ApiError::db("查询图片验证码失败"))?.ok_or_else(|| ApiError::no_data("图片验证码已过期"))?;
    if !captcha.matches(&text) {
        return Err(ApiError::data_err("图片验证码错误"));
    }
    if registered.map_err(ApiError::db("查询手机号失败"))? {
        return Err(ApiError::data_exist("手机号已注册"));
    }

    let code = SmsCode::generate();
    let cfg = &app.config;
    // The paid part comes next: the caller's address, the mobile and the whole stack must each
    // have an SMS left, and only then is the mobile's 60 s gap reserved. Taken together, the gap's
    // one winner could be refused by units that its racing losers held for an instant (they give
    // them back only once they have lost), and a burst for one mobile would send nothing; and an
    // address over its budget never touches anyone's gap.
    let budgets = [
        Counter::new(Budget::SmsPerIp, Subject::Ip(http::client_ip(req)), &cfg.limits),
        Counter::new(Budget::SmsPerMobile, Subject::Mobile(mobile.clone()), &cfg.limits),
        Counter::new(Budget::SmsTotal, Subject::Everyone, &cfg.limits),
    ];
    limits::take_or_refuse(&app.limiter, &budgets, now).await?;
    match app.store.reserve_sms(&mobile, &code, now, cfg.sms_code_ttl, cfg.sms_interval).await {
        Ok(true) => {}
        not_reserved => {
            limits::give_back(&app.limiter, &budgets, now).await;
            not_reserved.map_err(ApiError::db("保存短信验证码失败"))?;
            return Err(ApiError::new(Errno::ReqErr, format!("请求过于频繁，请{}秒后重试", cfg.sms_interval)));
        }
    }
    if let Err(e) = app.sms.send(&mobile, &sms::code_message(&code, cfg.sms_code_ttl / 60)).await {
        // Free the slot and the budgets so the user can retry at once: nothing was sent.
        tokio::join!(release(app, &mobile, &code), limits::give_back(&app.limiter, &budgets, now));
        return Err(ApiError::infra(Errno::ThirdErr, "发送失败", &e));
    }
    tracing::info!(mobile = %mobile.masked(), "sms code sent");
    metrics::emit(Metric::SmsSent);
    Ok(http::ok_message("发送成功"))
}

/// Frees the mobile's reserved slot: its code was never sent.
async fn release<S: Store, M, A, L>(app: &App<S, M, A, L>, mobile: &Mobile, code: &SmsCode) {
    if let Err(e) = app.store.release_sms(mobile, code).await {
        tracing::error!(error = %e, "could not release unsent sms code");
    }
}
