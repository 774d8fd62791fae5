//! Abuse budgets through the routes (issue: "close the open wallet"): each refused before the
//! costly work (no SNS call, no drawing, no bcrypt), with the errno of its row, counted per the
//! address API Gateway saw and never per a header the client writes.

use ihome::cache::CacheEndpoint;
use ihome::limits::{Budget, Counter, Limiter, Quota, Subject};
use ihome_tests::{TestApp, sent_sms, unique, unique_mobile, unreachable_sdk_config};
use serde_json::json;

const SMS: &str = "/api/v1.0/smscode";

/// Where the budgets are counted: the table (`None`) or the cache tier at this endpoint.
type Tier = Option<CacheEndpoint>;

/// Every test below runs on both: `on_table` and `on_redis` (the test command's redis-server).
async fn table() -> Tier {
    None
}

async fn redis() -> Tier {
    Some(crate::adapters::redis_endpoint())
}

fn builder(tier: Tier) -> ihome_tests::Builder {
    match tier {
        None => TestApp::builder(),
        Some(endpoint) => TestApp::builder().cache(endpoint),
    }
}

async fn app(tier: Tier, limits: impl FnOnce(&mut ihome::config::Limits)) -> TestApp {
    builder(tier).config(|c| limits(&mut c.limits)).build().await
}

/// Captcha, then an SMS request for `mobile`: the SMS route's answer.
async fn ask_sms(c: &mut ihome_tests::Client, mobile: &str) -> ihome_tests::Response {
    let id = unique("img");
    let text = c.captcha_text(&id).await;
    c.get_query(&format!("{SMS}/{mobile}"), &[("text", &text), ("id", &id)]).await
}

async fn sms_per_address_is_iperr_and_sends_nothing(tier: Tier) {
    let t = app(tier, |l| l.sms_per_ip = Quota::new(3, 3600)).await;
    let mut c = t.client();
    for _ in 0..3 {
        ask_sms(&mut c, &unique_mobile()).await.assert("0", "发送成功");
    }
    let fourth = unique_mobile();
    ask_sms(&mut c, &fourth).await.assert("4202", "请求过于频繁，请稍后重试");
    assert!(sent_sms(&fourth).await.is_empty(), "a refused request sent an SMS");
    // A header the client writes changes nothing; another address has its own budget.
    let id = unique("img");
    let text = c.captcha_text(&id).await;
    let r = c
        .send(ihome_tests::Request {
            method: "GET",
            path: &format!("{SMS}/{fourth}"),
            query: &[("text", &text), ("id", &id)],
            headers: &[("x-forwarded-for", "192.0.2.99")],
            body: None,
        })
        .await;
    r.assert("4202", "请求过于频繁，请稍后重试");
    c.from_ip("198.51.100.20");
    ask_sms(&mut c, &fourth).await.assert("0", "发送成功");
}

async fn sms_per_mobile_per_day_is_reqerr(tier: Tier) {
    let t = app(tier, |l| l.sms_per_mobile = Quota::new(2, 86_400)).await;
    let mobile = unique_mobile();
    let mut c = t.client();
    for i in 0..2 {
        c.from_ip(&format!("198.51.100.{i}"));
        ask_sms(&mut c, &mobile).await.assert("0", "发送成功");
        t.clock.advance(61);
    }
    c.from_ip("198.51.100.9");
    ask_sms(&mut c, &mobile).await.assert("4201", "该手机号今日获取验证码次数过多，请明天再试");
    assert_eq!(sent_sms(&mobile).await.len(), 2);
}

async fn sms_for_the_whole_stack_is_a_breaker(tier: Tier) {
    let t = app(tier, |l| l.sms_total = Quota::new(2, 3600)).await;
    let mut c = t.client();
    for i in 0..2 {
        c.from_ip(&format!("198.51.100.{i}"));
        ask_sms(&mut c, &unique_mobile()).await.assert("0", "发送成功");
    }
    c.from_ip("198.51.100.9");
    let third = unique_mobile();
    ask_sms(&mut c, &third).await.assert("4301", "短信服务繁忙，请稍后重试");
    assert!(sent_sms(&third).await.is_empty());
}

async fn the_sixty_second_gap_still_answers_first_and_takes_no_budget(tier: Tier) {
    let t = app(tier, |l| l.sms_per_ip = Quota::new(2, 3600)).await;
    let mut c = t.client();
    let mobile = unique_mobile();
    ask_sms(&mut c, &mobile).await.assert("0", "发送成功");
    ask_sms(&mut c, &mobile).await.assert("4201", "请求过于频繁，请60秒后重试");
    // The refused request's unit went back: one more SMS fits the address's budget of two.
    ask_sms(&mut c, &unique_mobile()).await.assert("0", "发送成功");
}

async fn an_sms_that_could_not_be_sent_costs_no_budget(tier: Tier) {
    let t = builder(tier)
        .config(|c| c.limits.sms_per_ip = Quota::new(1, 3600))
        .sns_sdk(unreachable_sdk_config().await)
        .build()
        .await;
    let mut c = t.client();
    ask_sms(&mut c, &unique_mobile()).await.assert("4301", "发送失败");
    let ip = ihome::domain::ClientIp::parse("203.0.113.7");
    let counter = Counter::new(Budget::SmsPerIp, Subject::Ip(ip), &t.app.config.limits);
    assert_eq!(t.app.limiter.used(&counter, t.app.now()).await.unwrap(), 0);
}

async fn captchas_per_address_are_iperr_before_drawing(tier: Tier) {
    let t = app(tier, |l| l.captcha_per_ip = Quota::new(2, 60)).await;
    let mut c = t.client();
    for i in 0..2 {
        let r = c.get(&format!("/api/v1.0/imagecode/cap{i}")).await;
        assert_eq!(r.header("content-type"), Some("image/png"));
    }
    c.get("/api/v1.0/imagecode/cap2").await.assert("4202", "请求过于频繁，请稍后重试");
    assert_eq!(t.peek_image_code("cap2").await, None, "nothing drawn or stored");
    // The next minute has a new budget.
    t.clock.advance(60);
    let r = c.get("/api/v1.0/imagecode/cap3").await;
    assert_eq!(r.header("content-type"), Some("image/png"));
}

/// A registration with a code never sent: refused by the code's check when the budget allows.
async fn try_register(c: &mut ihome_tests::Client) -> ihome_tests::Response {
    c.post_json("/api/v1.0/users", &json!({"mobile": unique_mobile(), "sms_code": "123456", "password": "password123"}))
        .await
}

async fn registrations_per_address_are_iperr_before_bcrypt(tier: Tier) {
    let t = app(tier, |l| l.register_per_ip = Quota::new(2, 3600)).await;
    let mut c = t.client();
    for _ in 0..2 {
        try_register(&mut c).await.assert("4002", "短信验证码已过期");
    }
    try_register(&mut c).await.assert("4202", "请求过于频繁，请稍后重试");
    // IPv6 counts per /64: another address in the same /64 shares the budget.
    c.from_ip("2001:db8:5:6::1");
    for _ in 0..2 {
        try_register(&mut c).await.assert("4002", "短信验证码已过期");
    }
    c.from_ip("2001:db8:5:6:ffff::2");
    try_register(&mut c).await.assert("4202", "请求过于频繁，请稍后重试");
}

/// Resets have the same shape as registrations: each right code costs a bcrypt hash, so the
/// address's resets are counted (with the code's check) before it.
async fn password_resets_per_address_are_iperr_before_bcrypt(tier: Tier) {
    let t = app(tier, |l| l.reset_per_ip = Quota::new(2, 3600)).await;
    let mut c = t.client();
    let reset = json!({"mobile": unique_mobile(), "sms_code": "123456", "password": "password123"});
    for _ in 0..2 {
        c.post_json("/api/v1.0/password/reset", &reset).await.assert("4002", "短信验证码已过期");
    }
    c.post_json("/api/v1.0/password/reset", &reset).await.assert("4202", "请求过于频繁，请稍后重试");
    // Registrations have a budget of their own.
    try_register(&mut c).await.assert("4002", "短信验证码已过期");
}

/// A new password asks for the old one: counted with the logins of that mobile and address.
async fn wrong_old_passwords_meet_the_login_limits(tier: Tier) {
    let t = app(tier, |l| l.login_per_mobile = Quota::new(3, 3600)).await;
    let (mut c, mobile, password) = t.registered_user().await;
    let change = json!({"old_password": "not the password", "new_password": "new password 1"});
    for i in 0..3 {
        c.from_ip(&format!("198.51.100.{}", i + 10));
        c.put_json("/api/v1.0/user/password", &change).await.assert("4106", "密码错误");
    }
    // Spread over three addresses, the three failures spent the mobile's budget: even the right
    // password from a fourth address is refused.
    let login = json!({"mobile": mobile, "password": password});
    t.client()
        .from_ip("198.51.100.98")
        .post_json("/api/v1.0/sessions", &login)
        .await
        .assert("4201", "错误次数过多，请稍后重试");
}

/// Hostile testing: login failures were counted per mobile, so anyone could lock its owner out
/// for ten minutes. Now five per (mobile, address): the attacker's address is locked, the
/// owner's is not.
async fn one_address_failing_cannot_lock_the_owner_out(tier: Tier) {
    let t = builder(tier).build().await;
    let (_, mobile, password) = t.registered_user().await;
    let mut attacker = t.client();
    attacker.from_ip("192.0.2.66");
    attacker.fail_logins(&mobile, 5).await;
    attacker
        .post_json("/api/v1.0/sessions", &json!({"mobile": mobile, "password": password}))
        .await
        .assert("4201", "错误次数过多，请稍后重试");
    let mut owner = t.client();
    owner.post_json("/api/v1.0/sessions", &json!({"mobile": mobile, "password": password})).await.assert("0", "OK");
}

/// Guesses spread over many addresses still meet the mobile's own budget (100 an hour by default).
async fn logins_per_mobile_from_all_addresses_are_limited(tier: Tier) {
    let t = app(tier, |l| l.login_per_mobile = Quota::new(3, 3600)).await;
    let (_, mobile, password) = t.registered_user().await;
    let mut c = t.client();
    for i in 0..3 {
        c.from_ip(&format!("192.0.2.{i}"));
        c.post_json("/api/v1.0/sessions", &json!({"mobile": mobile, "password": "wrong-password"}))
            .await
            .assert("4004", "用户名或密码错误");
    }
    c.from_ip("192.0.2.200");
    c.post_json("/api/v1.0/sessions", &json!({"mobile": mobile, "password": password}))
        .await
        .assert("4201", "错误次数过多，请稍后重试");
    t.clock.advance(3600);
    c.post_json("/api/v1.0/sessions", &json!({"mobile": mobile, "password": password})).await.assert("0", "OK");
}

contract!(
    on_table: table, on_redis: redis;
    [
        sms_per_address_is_iperr_and_sends_nothing,
        sms_per_mobile_per_day_is_reqerr,
        sms_for_the_whole_stack_is_a_breaker,
        the_sixty_second_gap_still_answers_first_and_takes_no_budget,
        an_sms_that_could_not_be_sent_costs_no_budget,
        captchas_per_address_are_iperr_before_drawing,
        registrations_per_address_are_iperr_before_bcrypt,
        password_resets_per_address_are_iperr_before_bcrypt,
        wrong_old_passwords_meet_the_login_limits,
        one_address_failing_cannot_lock_the_owner_out,
        logins_per_mobile_from_all_addresses_are_limited,
    ]
);
