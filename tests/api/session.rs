use ihome_tests::TestApp;

const USER: &str = "/api/v1.0/user";
const SESSION: &str = "/api/v1.0/session";

#[tokio::test]
async fn login_routes_refuse_missing_unknown_and_garbage_tokens() {
    let t = TestApp::spawn().await;
    let (c, _, _) = t.registered_user().await;
    let token = c.session_token().unwrap();
    let (uid, _) = token.split_once('.').unwrap();
    let forged = format!("{uid}.{}", "A".repeat(43));
    let other_user = format!("{}.{}", uid.parse::<u64>().unwrap() + 1, token.split_once('.').unwrap().1);
    let mut anon = t.client();
    for cookie in [None, Some("garbage"), Some(forged.as_str()), Some(other_user.as_str()), Some("")] {
        anon.forget_cookies();
        if let Some(v) = cookie {
            anon.set_cookie("session", v);
        }
        anon.get(USER).await.assert("4101", "用户未登录");
        anon.get(SESSION).await.assert("4101", "用户未登录");
        anon.delete(SESSION).await.assert("4101", "用户未登录");
    }
}

#[tokio::test]
async fn profile_and_status_for_a_live_session() {
    let t = TestApp::spawn().await;
    let (mut c, mobile, _) = t.registered_user().await;
    let r = c.get(USER).await;
    r.assert("0", "OK");
    assert_eq!(r.data()["mobile"], mobile.as_str());
    let s = c.get(SESSION).await;
    s.assert("0", "OK");
    assert_eq!(s.data()["name"], mobile.as_str());
    assert_eq!(s.data()["user_id"], r.data()["user_id"]);
}

#[tokio::test]
async fn sessions_expire_after_24_hours_though_still_stored() {
    let t = TestApp::spawn().await;
    let (mut c, _, _) = t.registered_user().await;
    t.clock.advance(86_399);
    c.get(USER).await.assert("0", "OK");
    t.clock.advance(1);
    c.get(USER).await.assert("4101", "用户未登录");
    c.get(SESSION).await.assert("4101", "用户未登录");
    c.delete(SESSION).await.assert("4101", "用户未登录");
}

#[tokio::test]
async fn user_gone_is_sessionerr_everywhere() {
    // Sessions live in the user's item: when it goes, so do they.
    let t = TestApp::spawn().await;
    let (mut c, _, _) = t.registered_user().await;
    t.delete_user(&c).await;
    c.get(USER).await.assert("4101", "用户未登录");
    c.get(SESSION).await.assert("4101", "用户未登录");
}

#[tokio::test]
async fn logout_ends_the_session_server_side() {
    let t = TestApp::spawn().await;
    let (mut c, _, _) = t.registered_user().await;
    let token = c.session_token().unwrap();
    let r = c.delete(SESSION).await;
    r.assert("0", "OK");
    assert!(r.set_cookies[0].starts_with("session=; ") && r.set_cookies[0].contains("Max-Age=0"));
    assert!(c.session_token().is_none(), "the browser drops the cookie");
    // A client that kept the token gets nowhere with it.
    c.set_cookie("session", &token);
    c.get(USER).await.assert("4101", "用户未登录");
    c.delete(SESSION).await.assert("4101", "用户未登录");
}

#[tokio::test]
async fn the_sessions_alias_logs_out_too() {
    let t = TestApp::spawn().await;
    let (mut c, _, _) = t.registered_user().await;
    c.delete("/api/v1.0/sessions").await.assert("0", "OK");
    c.get(SESSION).await.assert("4101", "用户未登录");
}

#[tokio::test]
async fn store_failure_on_a_login_route_is_dberr() {
    let t = TestApp::spawn().await;
    let (c, _, _) = t.registered_user().await;
    let broken = TestApp::builder().dynamo_sdk(ihome_tests::unreachable_sdk_config().await).build().await;
    let mut b = broken.client();
    b.set_cookie("session", &c.session_token().unwrap());
    b.get(USER).await.assert("4001", "查询登录状态失败");
    b.delete(SESSION).await.assert("4001", "退出登录失败");
}
