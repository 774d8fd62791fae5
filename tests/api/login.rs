use ihome_tests::{TestApp, unique_mobile};
use serde_json::json;

const SESSIONS: &str = "/api/v1.0/sessions";

#[tokio::test]
async fn logs_in_with_cookie_and_user_id() {
    let t = TestApp::spawn().await;
    let (first, mobile, password) = t.registered_user().await;
    let user_id = first.session_token().unwrap().split('.').next().unwrap().parse::<u64>().unwrap();
    let mut c = t.client();
    let r = c.post_json(SESSIONS, &json!({"mobile": mobile, "password": password})).await;
    r.assert("0", "OK");
    assert_eq!(r.data(), json!({"user_id": user_id}));
    let token = c.session_token().unwrap();
    assert_ne!(Some(token.clone()), first.session_token(), "a new session per login");
    assert_eq!(r.set_cookies[0], format!("session={token}; Path=/; HttpOnly; Secure; SameSite=Lax; Max-Age=86400"));
    c.get("/api/v1.0/session").await.assert("0", "OK");
}

#[tokio::test]
async fn unknown_mobile_and_wrong_password_answer_alike() {
    let t = TestApp::spawn().await;
    let (_, mobile, _) = t.registered_user().await;
    let mut c = t.client();
    let wrong = c.post_json(SESSIONS, &json!({"mobile": mobile, "password": "wrong-password"})).await;
    let unknown = c.post_json(SESSIONS, &json!({"mobile": unique_mobile(), "password": "wrong-password"})).await;
    let short = c.post_json(SESSIONS, &json!({"mobile": mobile, "password": "x"})).await;
    for r in [&wrong, &unknown, &short] {
        r.assert("4004", "用户名或密码错误");
        assert!(r.set_cookies.is_empty());
    }
    assert_eq!(wrong.body, unknown.body);
}

#[tokio::test]
async fn missing_fields_and_bad_mobile() {
    let t = TestApp::spawn().await;
    let mut c = t.client();
    c.post_json(SESSIONS, &json!({"mobile": unique_mobile()})).await.assert("4103", "参数不完整");
    c.post_json(SESSIONS, &json!({"password": "password123"})).await.assert("4103", "参数不完整");
    c.post_json(SESSIONS, &json!({"mobile": "1380013800", "password": "password123"}))
        .await
        .assert("4103", "手机号格式错误");
}

#[tokio::test]
async fn five_failures_lock_the_mobile_for_ten_minutes() {
    let t = TestApp::spawn().await;
    let (_, mobile, password) = t.registered_user().await;
    let mut c = t.client();
    c.fail_logins(&mobile, 5).await;
    // Locked: even the right password is refused, and tells why.
    c.post_json(SESSIONS, &json!({"mobile": mobile, "password": password}))
        .await
        .assert("4201", "错误次数过多，请稍后重试");
    t.clock.advance(599);
    c.post_json(SESSIONS, &json!({"mobile": mobile, "password": password}))
        .await
        .assert("4201", "错误次数过多，请稍后重试");
    t.clock.advance(1);
    c.post_json(SESSIONS, &json!({"mobile": mobile, "password": password})).await.assert("0", "OK");
    // A success clears the count: four more failures do not lock.
    for _ in 0..4 {
        c.post_json(SESSIONS, &json!({"mobile": mobile, "password": "wrong-password"}))
            .await
            .assert("4004", "用户名或密码错误");
    }
    c.post_json(SESSIONS, &json!({"mobile": mobile, "password": password})).await.assert("0", "OK");
}

#[tokio::test]
async fn unknown_mobiles_are_limited_too() {
    let t = TestApp::spawn().await;
    let mut c = t.client();
    let m = unique_mobile();
    c.fail_logins(&m, 5).await;
    c.post_json(SESSIONS, &json!({"mobile": m, "password": "whatever-pw"}))
        .await
        .assert("4201", "错误次数过多，请稍后重试");
}

#[tokio::test]
async fn store_failure_is_dberr() {
    let t = TestApp::builder().dynamo_sdk(ihome_tests::unreachable_sdk_config().await).build().await;
    t.client()
        .post_json(SESSIONS, &json!({"mobile": unique_mobile(), "password": "password123"}))
        .await
        .assert("4001", "查询用户信息失败");
}

/// A user item written before sessions were indexed in it (no `sessions` map) still logs in: the
/// login finds no index and writes a new one (one read and one write more, once).
#[tokio::test]
async fn a_user_item_without_a_session_index_logs_in() {
    let t = TestApp::spawn().await;
    let (first, mobile, password) = t.registered_user().await;
    let uid = first.session_token().unwrap().split('.').next().unwrap().to_owned();
    t.dynamo
        .update_item()
        .table_name(&t.table)
        .key(
            ihome::store::keys::PK,
            aws_sdk_dynamodb::types::AttributeValue::S(format!("{}{uid}", ihome::store::keys::USER_PREFIX)),
        )
        .update_expression("REMOVE sessions")
        .send()
        .await
        .unwrap();
    let mut c = t.client();
    t.calls.take();
    c.post_json(SESSIONS, &json!({"mobile": mobile, "password": password})).await.assert("0", "OK");
    let calls = t.calls.take();
    assert_eq!(calls.iter().filter(|c| *c == "TransactWriteItems").count(), 2, "{calls:?}");
    c.get("/api/v1.0/user").await.assert("0", "OK");
}
