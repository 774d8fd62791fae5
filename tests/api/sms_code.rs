use ihome::domain::{Mobile, SmsCode, SmsPurpose};
use ihome::store::Store;
use ihome_tests::{T0, TestApp, sent_sms, unique, unique_mobile, unreachable_sdk_config};

fn path(mobile: &str) -> String {
    format!("/api/v1.0/smscode/{mobile}")
}

#[tokio::test]
async fn sends_a_six_digit_code_to_plus_86() {
    let t = TestApp::spawn().await;
    let mut c = t.client();
    let mobile = unique_mobile();
    let text = c.captcha_text("img-1").await;
    let r = c.get_query(&path(&mobile), &[("text", &text.to_lowercase()), ("id", "img-1")]).await;
    r.assert("0", "发送成功");
    let sms = sent_sms(&mobile).await;
    assert_eq!(sms.len(), 1);
    let code = ihome_tests::last_sms_code(&mobile).await.unwrap();
    assert!(SmsCode::parse(&code).is_some());
    assert!(sms[0].contains(&code) && sms[0].contains("iHome"), "{}", sms[0]);
}

#[tokio::test]
async fn missing_parameters_and_bad_mobile() {
    let t = TestApp::spawn().await;
    let mut c = t.client();
    let m = unique_mobile();
    c.get_query(&path(&m), &[("id", "x")]).await.assert("4103", "参数不完整");
    c.get_query(&path(&m), &[("text", "ABCD")]).await.assert("4103", "参数不完整");
    c.get_query(&path(&m), &[("text", ""), ("id", "x")]).await.assert("4103", "参数不完整");
    for bad in ["12345678901", "1380013800", "abc", "138001380000"] {
        c.get_query(&path(bad), &[("text", "ABCD"), ("id", "x")]).await.assert("4103", "手机号格式错误");
    }
}

#[tokio::test]
async fn captcha_is_one_time_right_or_wrong() {
    let t = TestApp::spawn().await;
    let mut c = t.client();
    let mobile = unique_mobile();
    // Never issued.
    c.get_query(&path(&mobile), &[("text", "ABCD"), ("id", "nope")]).await.assert("4002", "图片验证码已过期");
    // Wrong answer consumes it: the right answer afterwards finds nothing.
    let text = c.captcha_text("one-time").await;
    let wrong = if text == "2345" { "3456" } else { "2345" };
    c.get_query(&path(&mobile), &[("text", wrong), ("id", "one-time")]).await.assert("4004", "图片验证码错误");
    c.get_query(&path(&mobile), &[("text", &text), ("id", "one-time")]).await.assert("4002", "图片验证码已过期");
    assert!(sent_sms(&mobile).await.is_empty());
}

#[tokio::test]
async fn expired_captcha_is_nodata_though_still_in_the_table() {
    let t = TestApp::spawn().await;
    let mut c = t.client();
    let mobile = unique_mobile();
    let text = c.captcha_text("old").await;
    t.clock.advance(300);
    assert!(t.peek_image_code("old").await.is_some(), "moto keeps expired items");
    c.get_query(&path(&mobile), &[("text", &text), ("id", "old")]).await.assert("4002", "图片验证码已过期");
}

#[tokio::test]
async fn registered_mobile_is_dataexist() {
    let t = TestApp::spawn().await;
    let (mut c, mobile, _) = t.registered_user().await;
    let text = c.captcha_text("again").await;
    c.get_query(&path(&mobile), &[("text", &text), ("id", "again")]).await.assert("4003", "手机号已注册");
}

#[tokio::test]
async fn one_sms_per_mobile_per_60_seconds() {
    let t = TestApp::spawn().await;
    let mut c = t.client();
    let mobile = unique_mobile();
    let first = c.captcha_text("a").await;
    c.get_query(&path(&mobile), &[("text", &first), ("id", "a")]).await.assert("0", "发送成功");
    t.clock.advance(59);
    let second = c.captcha_text("b").await;
    c.get_query(&path(&mobile), &[("text", &second), ("id", "b")]).await.assert("4201", "请求过于频繁，请60秒后重试");
    t.clock.advance(1);
    let third = c.captcha_text("c").await;
    c.get_query(&path(&mobile), &[("text", &third), ("id", "c")]).await.assert("0", "发送成功");
    assert_eq!(sent_sms(&mobile).await.len(), 2);
}

#[tokio::test]
async fn send_failure_is_thirderr_and_does_not_block_a_retry() {
    let broken = TestApp::builder().sns_sdk(unreachable_sdk_config().await).build().await;
    let mut c = broken.client();
    let mobile = unique_mobile();
    let text = c.captcha_text("s1").await;
    c.get_query(&path(&mobile), &[("text", &text), ("id", "s1")]).await.assert("4301", "发送失败");
    // The code was released: a retry at once is not throttled (it reaches SNS, down again).
    let text = c.captcha_text("s2").await;
    c.get_query(&path(&mobile), &[("text", &text), ("id", "s2")]).await.assert("4301", "发送失败");
    let m = Mobile::parse(&mobile).unwrap();
    assert_eq!(
        broken.store().check_out_sms(&m, SmsPurpose::Register, T0, 5).await.unwrap(),
        None,
        "no unsent code left behind"
    );
}

#[tokio::test]
async fn store_failure_is_dberr() {
    let t = TestApp::builder().dynamo_sdk(unreachable_sdk_config().await).build().await;
    let mut c = t.client();
    let id = unique("x");
    let r = c.get_query(&path(&unique_mobile()), &[("text", "ABCD"), ("id", &id)]).await;
    assert_eq!(r.errno(), "4001", "{}", r.text());
}
