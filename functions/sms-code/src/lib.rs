//! Route 2, GET /smscode/{mobile}?text=&id=&purpose=: checks the one-time captcha, then sends a
//! 6-digit code: to register (the default; refused for a registered mobile) or, with
//! `purpose=reset`, to reset a forgotten password (sent only to an account's mobile, but answered
//! alike for any mobile: the same errno, the same writes, about the same time).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use lambda_http::{Body, Request, Response};

use ihome::app::App;
use ihome::domain::{ImageCodeId, Mobile, SmsCode, SmsPurpose};
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
    let purpose = SmsPurpose::parse(http::query_param(req, "purpose").as_deref())
        .ok_or_else(|| ApiError::param("purpose 只能是 register 或 reset"))?;
    let now = app.now();

    // The captcha is consumed by this attempt, right or wrong; the mobile check runs alongside.
    let (captcha, registered) = tokio::join!(app.store.take_image_code(&id, now), app.store.mobile_registered(&mobile));
    let captcha =
        captcha.map_err(ApiError::db("查询图片验证码失败"))?.ok_or_else(|| ApiError::no_data("图片验证码已过期"))?;
    if !captcha.matches(&text) {
        return Err(ApiError::data_err("图片验证码错误"));
    }
    let registered = registered.map_err(ApiError::db("查询手机号失败"))?;
    if purpose == SmsPurpose::Register && registered {
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
    // Reset codes are reserved for unregistered mobiles too: the 60 s gap then answers alike.
    match app.store.reserve_sms(&mobile, purpose, &code, now, cfg.sms_code_ttl, cfg.sms_interval).await {
        Ok(true) => {}
        not_reserved => {
            limits::give_back(&app.limiter, &budgets, now).await;
            not_reserved.map_err(ApiError::db("保存短信验证码失败"))?;
            return Err(ApiError::new(Errno::ReqErr, format!("请求过于频繁，请{}秒后重试", cfg.sms_interval)));
        }
    }
    if purpose == SmsPurpose::Reset && !registered {
        // No account, nothing to send: wait about as long as a send takes, so the time does not
        // tell either. The code stays stored, unknown to anyone, until it expires.
        tokio::time::sleep(SEND_TIME.typical()).await;
        tracing::info!("reset code for a mobile without an account: not sent");
        return Ok(http::ok_message("发送成功"));
    }
    let message = match purpose {
        SmsPurpose::Register => sms::code_message(&code, cfg.sms_code_ttl / 60),
        SmsPurpose::Reset => sms::reset_message(&code, cfg.sms_code_ttl / 60),
    };
    let started = Instant::now();
    let sent = app.sms.send(&mobile, &message).await;
    SEND_TIME.record(started.elapsed());
    if let Err(e) = sent {
        // Free the slot and the budgets so the user can retry at once: nothing was sent.
        tokio::join!(release(app, &mobile, purpose, &code), limits::give_back(&app.limiter, &budgets, now));
        return Err(ApiError::infra(Errno::ThirdErr, "发送失败", &e));
    }
    tracing::info!(mobile = %mobile.masked(), ?purpose, "sms code sent");
    metrics::emit(Metric::SmsSent);
    Ok(http::ok_message("发送成功"))
}

/// How long this container's sends take: a moving average (1/8 weight to the newest), which the
/// no-account reset answer waits for. Until a first send, a typical SNS publish.
struct SendTime(AtomicU64);

static SEND_TIME: SendTime = SendTime(AtomicU64::new(40_000));

impl SendTime {
    fn typical(&self) -> Duration {
        Duration::from_micros(self.0.load(Ordering::Relaxed))
    }

    fn record(&self, took: Duration) {
        let took = u64::try_from(took.as_micros()).unwrap_or(u64::MAX).min(5_000_000);
        // A lost update between racing requests only skips one sample.
        let old = self.0.load(Ordering::Relaxed);
        self.0.store(old - old / 8 + took / 8, Ordering::Relaxed);
    }
}

/// Frees the mobile's reserved slot: its code was never sent.
async fn release<S: Store, M, A, L>(app: &App<S, M, A, L>, mobile: &Mobile, purpose: SmsPurpose, code: &SmsCode) {
    if let Err(e) = app.store.release_sms(mobile, purpose, code).await {
        tracing::error!(error = %e, "could not release unsent sms code");
    }
}
