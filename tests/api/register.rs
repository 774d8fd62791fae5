use ihome::domain::{Mobile, SmsCode, SmsPurpose};
use ihome::store::Store;
use ihome_tests::{T0, TestApp, unique_mobile};
use serde_json::json;

const USERS: &str = "/api/v1.0/users";

#[tokio::test]
async fn registers_logs_in_and_consumes_the_code() {
    let t = TestApp::spawn().await;
    let mut c = t.client();
    let mobile = unique_mobile();
    let code = c.request_sms(&mobile).await;
    let r = c
        .post_json(
            USERS,
            &json!({"mobile": mobile, "sms_code": code, "password": "password123", "password2": "password123"}),
        )
        .await;
    assert_eq!(r.errno(), "0", "{}", r.text());
    let data = r.data();
    assert!(data["user_id"].as_u64().is_some_and(|id| id > 0 && id < (1 << 53)));
    assert_eq!(data["name"], mobile.as_str());
    assert_eq!(data["mobile"], mobile.as_str());
    assert_eq!(data["avatar"], "");
    assert_eq!(data["avatar_url"], "");
    assert_eq!(data["create_time"], "2026-09-21 22:13:20");
    let cookie = &r.set_cookies[0];
    let token = c.session_token().unwrap();
    assert_eq!(cookie, &format!("session={token}; Path=/; HttpOnly; Secure; SameSite=Lax; Max-Age=86400"));

    // The code is gone: a second registration with it finds nothing.
    let mut other = t.client();
    other
        .post_json(USERS, &json!({"mobile": mobile, "sms_code": code, "password": "password123"}))
        .await
        .assert("4002", "短信验证码已过期");
}

#[tokio::test]
async fn missing_fields_are_incomplete() {
    let t = TestApp::spawn().await;
    let mut c = t.client();
    let m = unique_mobile();
    for body in [
        json!({"sms_code": "123456", "password": "password123"}),
        json!({"mobile": m, "password": "password123"}),
        json!({"mobile": m, "sms_code": "123456"}),
        json!({"mobile": "", "sms_code": "123456", "password": "password123"}),
        json!({"mobile": m, "sms_code": null, "password": "password123"}),
        json!({}),
    ] {
        c.post_json(USERS, &body).await.assert("4103", "参数不完整");
    }
}

#[tokio::test]
async fn field_checks_say_which() {
    let t = TestApp::spawn().await;
    let mut c = t.client();
    let m = unique_mobile();
    c.post_json(USERS, &json!({"mobile": "23800138000", "sms_code": "123456", "password": "password123"}))
        .await
        .assert("4103", "手机号格式错误");
    c.post_json(USERS, &json!({"mobile": m, "sms_code": "123456", "password": "short12"}))
        .await
        .assert("4103", "密码长度不能少于8个字符");
    c.post_json(USERS, &json!({"mobile": m, "sms_code": "123456", "password": "a".repeat(73)}))
        .await
        .assert("4103", "密码过长，不能超过72个字节");
    c.post_json(
        USERS,
        &json!({"mobile": m, "sms_code": "123456", "password": "password123", "password2": "password124"}),
    )
    .await
    .assert("4103", "两次输入的密码不一致");
    c.post_json(USERS, &json!({"mobile": m, "sms_code": "12345", "password": "password123"}))
        .await
        .assert("4103", "短信验证码格式错误");
}

#[tokio::test]
async fn a_72_byte_password_is_kept_whole() {
    let t = TestApp::spawn().await;
    let mut c = t.client();
    let mobile = unique_mobile();
    let code = c.request_sms_fixture(&mobile).await;
    let password = "p".repeat(72);
    c.post_json(USERS, &json!({"mobile": mobile, "sms_code": code, "password": password})).await.assert("0", "OK");
    let mut l = t.client();
    let almost = format!("{}q", "p".repeat(71));
    l.post_json("/api/v1.0/sessions", &json!({"mobile": mobile, "password": almost}))
        .await
        .assert("4004", "用户名或密码错误");
    l.post_json("/api/v1.0/sessions", &json!({"mobile": mobile, "password": password})).await.assert("0", "OK");
}

#[tokio::test]
async fn no_code_wrong_code_and_expired_code() {
    let t = TestApp::spawn().await;
    let mut c = t.client();
    let mobile = unique_mobile();
    c.post_json(USERS, &json!({"mobile": mobile, "sms_code": "123456", "password": "password123"}))
        .await
        .assert("4002", "短信验证码已过期");
    let code = c.request_sms_fixture(&mobile).await;
    let wrong = if code == "000000" { "111111" } else { "000000" };
    c.post_json(USERS, &json!({"mobile": mobile, "sms_code": wrong, "password": "password123"}))
        .await
        .assert("4004", "短信验证码错误");
    t.clock.advance(300);
    c.post_json(USERS, &json!({"mobile": mobile, "sms_code": code, "password": "password123"}))
        .await
        .assert("4002", "短信验证码已过期");
}

#[tokio::test]
async fn five_wrong_tries_void_the_code() {
    let t = TestApp::spawn().await;
    let mut c = t.client();
    let mobile = unique_mobile();
    let code = c.request_sms_fixture(&mobile).await;
    let wrong = if code == "000000" { "111111" } else { "000000" };
    for _ in 0..5 {
        c.post_json(USERS, &json!({"mobile": mobile, "sms_code": wrong, "password": "password123"}))
            .await
            .assert("4004", "短信验证码错误");
    }
    c.post_json(USERS, &json!({"mobile": mobile, "sms_code": code, "password": "password123"}))
        .await
        .assert("4002", "短信验证码已过期");
}

#[tokio::test]
async fn taken_mobile_is_dataexist() {
    let t = TestApp::spawn().await;
    let (_, mobile, _) = t.registered_user().await;
    // The SMS route refuses registered mobiles, so put a live code in place directly.
    let m = Mobile::parse(&mobile).unwrap();
    let code = SmsCode::parse("246810").unwrap();
    assert!(t.store().reserve_sms(&m, SmsPurpose::Register, &code, T0 + 120, 300, 60).await.unwrap());
    t.clock.advance(120);
    let mut c = t.client();
    c.post_json(USERS, &json!({"mobile": mobile, "sms_code": "246810", "password": "password123"}))
        .await
        .assert("4003", "手机号已注册");
    assert!(c.session_token().is_none());
}

#[tokio::test]
async fn store_failure_is_dberr() {
    let t = TestApp::builder().dynamo_sdk(ihome_tests::unreachable_sdk_config().await).build().await;
    let r = t
        .client()
        .post_json(USERS, &json!({"mobile": unique_mobile(), "sms_code": "123456", "password": "password123"}))
        .await;
    // The address's budget and the code are read together; the budget answers first.
    r.assert("4001", "查询请求次数失败");
}
