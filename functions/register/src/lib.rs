//! Route 3, POST /users: checks the SMS code, creates the account and logs the user in.

use lambda_http::{Body, Request, Response};

use ihome::app::App;
use ihome::domain::{SessionToken, SmsPurpose, User, UserId};
use ihome::errno::Errno;
use ihome::error::ApiError;
use ihome::forms;
use ihome::http;
use ihome::limits::{self, Budget, Counter, Limiter, Subject};
use ihome::metrics::{self, Metric};
use ihome::password_check;
use ihome::store::{CreateUserError, NewSession, NewUser, Store};

pub async fn handle<S: Store, M: Sync, A: Sync, L: Limiter>(
    app: &App<S, M, A, L>,
    req: &Request,
) -> Result<Response<Body>, ApiError> {
    let (mobile, sms_code, password) = forms::code_and_password(req)?;
    let cfg = &app.config;
    let now = app.now();

    // The code is checked (one of its tries spent) before bcrypt runs: a request without the
    // right code costs one DynamoDB call, not 50 ms of hashing on a 1,769 MB function. The
    // caller's address must have registrations left, counted in the same round trip.
    let budget = [Counter::new(Budget::RegisterPerIp, Subject::Ip(http::client_ip(req)), &cfg.limits)];
    let (allowed, stored) = tokio::join!(
        limits::take_or_refuse(&app.limiter, &budget, now),
        app.store.check_out_sms(&mobile, SmsPurpose::Register, now, cfg.sms_max_attempts)
    );
    allowed?;
    let stored =
        stored.map_err(ApiError::db("查询短信验证码失败"))?.ok_or_else(|| ApiError::no_data("短信验证码已过期"))?;
    if stored != sms_code {
        return Err(ApiError::data_err("短信验证码错误"));
    }
    metrics::emit(Metric::SmsCodeVerified);
    // bcrypt is slow on purpose: off the executor.
    let password_hash = password_check::hash(password, cfg.bcrypt_cost).await?;

    // Ids are random; a collision (about 1 in 2^53 per existing user) just draws again.
    for _ in 0..3 {
        let user = NewUser {
            id: UserId::random(),
            mobile: mobile.clone(),
            password_hash: password_hash.clone(),
            create_time: now,
        };
        let token = SessionToken::generate(user.id);
        let session = NewSession::for_token(&token, now + cfg.session_ttl);
        match app.store.create_user(&user, &sms_code, &session).await {
            Ok(()) => {
                tracing::info!(user_id = user.id.get(), "user registered");
                let created = User {
                    id: user.id,
                    name: mobile.as_str().to_owned(),
                    mobile,
                    avatar_url: String::new(),
                    create_time: now,
                    real_name: None,
                    id_card: None,
                };
                let mut resp = http::ok_data(created.to_dict(cfg.utc_offset_hours));
                http::set_session_cookie(&mut resp, &token, cfg.session_ttl, cfg.cookie_secure);
                return Ok(resp);
            }
            Err(CreateUserError::MobileTaken) => return Err(ApiError::data_exist("手机号已注册")),
            Err(CreateUserError::CodeGone) => return Err(ApiError::no_data("短信验证码已过期")),
            Err(CreateUserError::Retry) => continue,
            Err(CreateUserError::Store(e)) => {
                return Err(ApiError::db("保存用户数据失败")(e));
            }
        }
    }
    Err(ApiError::infra(Errno::DbErr, "保存用户数据失败", &"create user: retries exhausted"))
}
