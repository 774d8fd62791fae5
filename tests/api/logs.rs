//! A whole flow's log output holds no password, code, token or whole mobile number.

use ihome_tests::{TestApp, unique_mobile};
use serde_json::json;

#[tokio::test]
async fn a_whole_flow_logs_no_secrets() {
    let (captured, _guard) = ihome_tests::logs::capture();
    let t = TestApp::spawn().await;
    let mut c = t.client();
    let mobile = unique_mobile();
    let password = "Pa55word-not-in-logs";

    c.get("/api/v1.0/imagecode/log-test").await;
    let text = t.peek_image_code("log-test").await.unwrap();
    c.get_query(&format!("/api/v1.0/smscode/{mobile}"), &[("text", &text), ("id", "log-test")])
        .await
        .assert("0", "发送成功");
    let code = ihome_tests::last_sms_code(&mobile).await.unwrap();
    // A wrong code and a wrong password on the way, to exercise the error paths' logging.
    c.post_json("/api/v1.0/users", &json!({"mobile": mobile, "sms_code": "000000", "password": password})).await;
    c.post_json("/api/v1.0/users", &json!({"mobile": mobile, "sms_code": code, "password": password}))
        .await
        .assert("0", "OK");
    let token = c.session_token().unwrap();
    c.get("/api/v1.0/user").await.assert("0", "OK");
    c.put_json("/api/v1.0/user/name", &json!({"name": "日志测试"})).await.assert("0", "OK");
    c.post_json("/api/v1.0/user/auth", &json!({"real_name": "欧阳娜娜", "id_card": "11010519491231002X"}))
        .await
        .assert("0", "OK");
    c.post_json("/api/v1.0/user/auth", &json!({"real_name": "欧阳娜娜", "id_card": "11010519491231002X"}))
        .await
        .assert("4003", "已实名认证");
    c.get("/api/v1.0/user/auth").await.assert("0", "OK");
    c.delete("/api/v1.0/session").await.assert("0", "OK");
    c.post_json("/api/v1.0/sessions", &json!({"mobile": mobile, "password": "wrong-password-x"})).await;
    c.post_json("/api/v1.0/sessions", &json!({"mobile": mobile, "password": password})).await.assert("0", "OK");
    let token2 = c.session_token().unwrap();
    // The account routes: a new password, a reset by SMS, logging out everywhere, deletion.
    let new_password = "N3w-pa55word-not-in-logs";
    c.put_json("/api/v1.0/user/password", &json!({"old_password": "wrong-old-one", "new_password": new_password}))
        .await
        .assert("4106", "密码错误");
    c.put_json("/api/v1.0/user/password", &json!({"old_password": password, "new_password": new_password}))
        .await
        .assert("0", "密码已修改");
    c.request_reset(&mobile).await.assert("0", "发送成功");
    let reset_code = ihome_tests::last_sms_code(&mobile).await.unwrap();
    let reset_password = "R3set-pa55word-not-in-logs";
    c.post_json(
        "/api/v1.0/password/reset",
        &json!({"mobile": mobile, "sms_code": reset_code, "password": reset_password}),
    )
    .await
    .assert("0", "密码已重置");
    c.post_json("/api/v1.0/sessions", &json!({"mobile": mobile, "password": reset_password})).await.assert("0", "OK");
    c.delete("/api/v1.0/user/sessions").await.assert("0", "OK");
    c.post_json("/api/v1.0/sessions", &json!({"mobile": mobile, "password": reset_password})).await.assert("0", "OK");
    let token3 = c.session_token().unwrap();
    let deleting_logs_from = captured.text().len();
    c.delete_json("/api/v1.0/user", &json!({"password": reset_password})).await.assert("0", "账号已注销");
    // The deletion's own lines keep nothing of the account: not even the masked mobile or the name.
    let deletion = captured.text()[deleting_logs_from..].to_owned();
    assert!(deletion.contains("account deleted"), "{deletion}");
    for (what, value) in
        [("masked mobile", format!("{}****{}", &mobile[..3], &mobile[7..])), ("name", "日志测试".into())]
    {
        assert!(!deletion.contains(&value), "the deletion logged the account's {what}:\n{deletion}");
    }
    let broken = TestApp::builder().dynamo_sdk(ihome_tests::unreachable_sdk_config().await).build().await;
    broken
        .client()
        .post_json("/api/v1.0/sessions", &json!({"mobile": mobile, "password": password}))
        .await
        .assert("4001", "查询用户信息失败");

    let logs = captured.text();
    // The capture works and is structured: one JSON object per line, one per request at least.
    let lines: Vec<serde_json::Value> = logs.lines().map(|l| serde_json::from_str(l).expect("JSON log line")).collect();
    assert!(lines.iter().filter(|l| l["fields"]["message"] == "request").count() >= 21, "{logs}");
    assert!(logs.contains(&format!("{}****{}", &mobile[..3], &mobile[7..])), "masked mobile is logged");
    let secret = |s: &str| s.split_once('.').map(|(_, s)| s.to_owned()).unwrap_or_default();
    for (what, value) in [
        ("password", password.to_owned()),
        ("sms code", code.clone()),
        ("captcha text", text.clone()),
        ("whole mobile", mobile.clone()),
        ("real name", "欧阳娜娜".to_owned()),
        ("ID number", "11010519491231002X".to_owned()),
        ("ID number digits", "19491231".to_owned()),
        ("token", token.clone()),
        ("token secret", secret(&token)),
        ("second token secret", secret(&token2)),
        ("third token secret", secret(&token3)),
        ("new password", new_password.to_owned()),
        ("reset password", reset_password.to_owned()),
        ("reset code", reset_code.clone()),
    ] {
        assert!(!logs.contains(&value), "{what} leaked into logs:\n{logs}");
    }
}
