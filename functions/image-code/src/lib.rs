//! Route 1, GET /imagecode/{image_code_id}: a fresh captcha image, its answer kept 300 s.

use lambda_http::{Body, Request, Response};

use ihome::app::App;
use ihome::captcha::render_png;
use ihome::domain::{ImageCodeId, ImageCodeText};
use ihome::errno::Errno;
use ihome::error::ApiError;
use ihome::http;
use ihome::limits::{self, Budget, Counter, Limiter, Subject};
use ihome::store::Store;

pub async fn handle<S: Store, M: Sync, A: Sync, L: Limiter>(
    app: &App<S, M, A, L>,
    req: &Request,
) -> Result<Response<Body>, ApiError> {
    let id = http::path_param(req, "image_code_id")
        .and_then(|s| ImageCodeId::parse(&s))
        .ok_or_else(|| ApiError::param("图片验证码编号格式错误"))?;
    let now = app.now();
    // Drawing costs CPU: the caller's address must have budget left first.
    let budget = [Counter::new(Budget::CaptchaPerIp, Subject::Ip(http::client_ip(req)), &app.config.limits)];
    limits::take_or_refuse(&app.limiter, &budget, now).await?;
    let text = ImageCodeText::generate();
    let expires_at = now + app.config.image_code_ttl;
    // Drawing and storing are independent: the answer is sent to the store first, and the
    // picture drawn (~0.1 ms of CPU, on this thread: a blocking-pool thread would cost more to
    // start, in time and memory, than the drawing) while the round trip is in flight.
    let (saved, png) = tokio::join!(app.store.put_image_code(&id, &text, expires_at), async { render_png(&text) });
    saved.map_err(ApiError::db("保存图片验证码失败"))?;
    let png = png.ok_or_else(|| ApiError::infra(Errno::ServerErr, "生成图片验证码失败", &"captcha renderer failed"))?;
    Ok(http::image("image/png", png))
}
