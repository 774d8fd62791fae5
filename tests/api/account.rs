//! The account routes: a new password, a forgotten one reset by SMS, logging out everywhere and
//! deleting the account, through the routes on DynamoDB (moto). The store's side of each (on
//! both stores) is in `store_contract`; the embedded store's routes in `local/tests/server.rs`.

use futures_util::future::join_all;
use ihome::domain::UserId;
use ihome::store::Store;
use ihome_tests::{Part, TestApp, last_sms_code, sample_image, sent_sms, unique_mobile, unreachable_sdk_config};
use serde_json::json;

const PASSWORD: &str = "/api/v1.0/user/password";
const RESET: &str = "/api/v1.0/password/reset";
const EVERYWHERE: &str = "/api/v1.0/user/sessions";
const USER: &str = "/api/v1.0/user";
const LOGIN: &str = "/api/v1.0/sessions";

fn change(old: &str, new: &str) -> serde_json::Value {
    json!({"old_password": old, "new_password": new})
}

#[tokio::test]
async fn a_new_password_ends_every_other_session_and_keeps_this_one() {
    let t = TestApp::spawn().await;
    let (mut c, mobile, password) = t.registered_user().await;
    let mut other = t.client();
    other.post_json(LOGIN, &json!({"mobile": mobile, "password": password})).await.assert("0", "OK");
    c.put_json(PASSWORD, &change(&password, "a new password 2")).await.assert("0", "密码已修改");
    c.get(USER).await.assert("0", "OK");
    other.get(USER).await.assert("4101", "用户未登录");
    let mut fresh = t.client();
    fresh.post_json(LOGIN, &json!({"mobile": mobile, "password": password})).await.assert("4004", "用户名或密码错误");
    fresh.post_json(LOGIN, &json!({"mobile": mobile, "password": "a new password 2"})).await.assert("0", "OK");
}

#[tokio::test]
async fn a_new_password_is_refused_clearly_and_nothing_changes() {
    let t = TestApp::spawn().await;
    let (mut c, mobile, password) = t.registered_user().await;
    t.ended_session_client().await.put_json(PASSWORD, &change("x", "y")).await.assert("4101", "用户未登录");
    c.put_json(PASSWORD, &json!({"old_password": password})).await.assert("4103", "参数不完整");
    c.put_json(PASSWORD, &change(&password, "short")).await.assert("4103", "密码长度不能少于8个字符");
    c.put_json(PASSWORD, &change("not the password", "a new password 2")).await.assert("4106", "密码错误");
    c.put_json(PASSWORD, &json!({"old_password": password, "new_password": "a new password 2", "x": 1}))
        .await
        .assert("4103", "参数格式错误");
    let mut fresh = t.client();
    fresh.post_json(LOGIN, &json!({"mobile": mobile, "password": password})).await.assert("0", "OK");
}

#[tokio::test]
async fn wrong_old_passwords_count_as_failed_logins() {
    let t = TestApp::spawn().await;
    let (mut c, mobile, password) = t.registered_user().await;
    for _ in 0..5 {
        c.put_json(PASSWORD, &change("not the password", "a new password 2")).await.assert("4106", "密码错误");
    }
    // The address's five tries are spent, for the route and for login alike.
    c.put_json(PASSWORD, &change(&password, "a new password 2")).await.assert("4201", "错误次数过多，请稍后重试");
    let mut same_address = t.client();
    same_address
        .post_json(LOGIN, &json!({"mobile": mobile, "password": password}))
        .await
        .assert("4201", "错误次数过多，请稍后重试");
}

/// Logins with the old password race its change: no session made with it outlives the change.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_login_racing_a_password_change_leaves_no_old_session() {
    let t = TestApp::spawn().await;
    let (c, mobile, password) = t.registered_user().await;
    let logins = (0..8).map(|i| {
        let mut l = t.client();
        l.from_ip(&format!("198.51.100.{}", i + 1));
        let body = json!({"mobile": mobile, "password": password});
        async move {
            l.post_json(LOGIN, &body).await;
            l
        }
    });
    let mut changer = c.clone();
    let new = change(&password, "a new password 2");
    let changing = async move { changer.put_json(PASSWORD, &new).await };
    let (clients, changed) = tokio::join!(join_all(logins), changing);
    changed.assert("0", "密码已修改");
    for mut l in clients {
        if l.session_token().is_some() {
            l.get(USER).await.assert("4101", "用户未登录");
        }
    }
}

/// A reset lifts the login lock of the address it comes from: the owner just proved the mobile.
#[tokio::test]
async fn a_reset_lifts_this_addresss_login_lock() {
    let t = TestApp::spawn().await;
    let (_, mobile, _) = t.registered_user().await;
    let mut c = t.client();
    c.fail_logins(&mobile, 5).await;
    c.request_reset(&mobile).await.assert("0", "发送成功");
    let code = last_sms_code(&mobile).await.unwrap();
    let reset = json!({"mobile": mobile, "sms_code": code, "password": "reset password 3"});
    c.post_json(RESET, &reset).await.assert("0", "密码已重置");
    c.post_json(LOGIN, &json!({"mobile": mobile, "password": "reset password 3"})).await.assert("0", "OK");
}

#[tokio::test]
async fn a_forgotten_password_is_reset_by_sms_and_every_session_ends() {
    let t = TestApp::spawn().await;
    let (mut c, mobile, password) = t.registered_user().await;
    let mut someone = t.client();
    someone.request_reset(&mobile).await.assert("0", "发送成功");
    let sms = sent_sms(&mobile).await;
    assert!(sms.last().unwrap().contains("重置密码"), "a reset message: {sms:?}");
    let code = last_sms_code(&mobile).await.unwrap();
    let wrong = if code == "000000" { "000001" } else { "000000" };
    let body = |code: &str| json!({"mobile": mobile, "sms_code": code, "password": "reset password 3"});
    someone.post_json(RESET, &body(wrong)).await.assert("4004", "短信验证码错误");
    someone
        .post_json(RESET, &json!({"mobile": mobile, "sms_code": code, "password": "short"}))
        .await
        .assert("4103", "密码长度不能少于8个字符");
    let r = someone.post_json(RESET, &body(&code)).await;
    r.assert("0", "密码已重置");
    c.get(USER).await.assert("4101", "用户未登录");
    someone.post_json(RESET, &body(&code)).await.assert("4002", "短信验证码已过期");
    let mut fresh = t.client();
    fresh.post_json(LOGIN, &json!({"mobile": mobile, "password": password})).await.assert("4004", "用户名或密码错误");
    fresh.post_json(LOGIN, &json!({"mobile": mobile, "password": "reset password 3"})).await.assert("0", "OK");
}

#[tokio::test]
async fn a_reset_code_is_asked_for_alike_whether_the_account_exists_or_not() {
    let t = TestApp::spawn().await;
    let (_, registered, _) = t.registered_user().await;
    let nobody = unique_mobile();
    let mut c = t.client();
    let sent_before = sent_sms(&registered).await.len();
    for mobile in [&registered, &nobody] {
        t.calls.take();
        let first = c.request_reset(mobile).await;
        let calls = t.calls.take();
        first.assert("0", "发送成功");
        // The same requests to the table, in the same order, account or not.
        assert_eq!(calls.len(), 8, "{mobile}: {calls:?}");
        // The same 60 s gap afterwards.
        c.request_reset(mobile).await.assert("4201", "请求过于频繁，请60秒后重试");
    }
    assert_eq!(sent_sms(&registered).await.len(), sent_before + 1);
    assert!(sent_sms(&nobody).await.is_empty(), "nothing is sent to a mobile without an account");
    c.get_query(&format!("/api/v1.0/smscode/{nobody}"), &[("text", "ABCD"), ("id", "x"), ("purpose", "other")])
        .await
        .assert("4103", "purpose 只能是 register 或 reset");
}

#[tokio::test]
async fn registration_and_reset_codes_never_stand_for_each_other() {
    let t = TestApp::spawn().await;
    let (_, mobile, _) = t.registered_user().await;
    let mut c = t.client();
    // A reset code never registers: for a new mobile, it is not sent, and a registration with
    // any code finds no registration code.
    let new_mobile = unique_mobile();
    c.request_reset(&new_mobile).await.assert("0", "发送成功");
    let register = json!({"mobile": new_mobile, "sms_code": "123456", "password": "password123"});
    c.post_json("/api/v1.0/users", &register).await.assert("4002", "短信验证码已过期");
    // A registered mobile's reset code does not register either: the mobile is taken, and its
    // registration code slot is empty.
    c.request_reset(&mobile).await.assert("0", "发送成功");
    let code = last_sms_code(&mobile).await.unwrap();
    let register = json!({"mobile": mobile, "sms_code": code, "password": "password123"});
    c.post_json("/api/v1.0/users", &register).await.assert("4002", "短信验证码已过期");
    // A registration code never resets a password.
    let other = unique_mobile();
    let code = c.request_sms(&other).await;
    let reset = json!({"mobile": other, "sms_code": code, "password": "password123"});
    c.post_json(RESET, &reset).await.assert("4002", "短信验证码已过期");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn resets_racing_with_one_code_spend_it_once() {
    let t = TestApp::spawn().await;
    let (_, mobile, _) = t.registered_user().await;
    let mut c = t.client();
    c.request_reset(&mobile).await.assert("0", "发送成功");
    let code = last_sms_code(&mobile).await.unwrap();
    let answers = join_all((0..5).map(|i| {
        let mut c = t.client();
        c.from_ip(&format!("203.0.113.{}", i + 1));
        let body = json!({"mobile": mobile, "sms_code": code, "password": format!("racing password {i}")});
        async move { c.post_json(RESET, &body).await.errno() }
    }))
    .await;
    assert_eq!(answers.iter().filter(|e| *e == "0").count(), 1, "{answers:?}");
    assert!(answers.iter().all(|e| e == "0" || e == "4002"), "{answers:?}");
}

#[tokio::test]
async fn logging_out_everywhere_ends_every_session() {
    let t = TestApp::spawn().await;
    let (mut c, mobile, password) = t.registered_user().await;
    let mut phone = t.client();
    phone.post_json(LOGIN, &json!({"mobile": mobile, "password": password})).await.assert("0", "OK");
    let (mut stranger, _, _) = t.registered_user().await;
    let r = c.delete(EVERYWHERE).await;
    r.assert("0", "OK");
    assert!(r.set_cookies[0].starts_with("session=; ") && r.set_cookies[0].contains("Max-Age=0"));
    phone.get(USER).await.assert("4101", "用户未登录");
    phone.delete(EVERYWHERE).await.assert("4101", "用户未登录");
    c.get(USER).await.assert("4101", "用户未登录");
    stranger.get(USER).await.assert("0", "OK");
}

#[tokio::test]
async fn a_deleted_account_leaves_nothing_and_its_mobile_registers_again() {
    let t = TestApp::spawn().await;
    let (mut c, mobile, password) = t.registered_user().await;
    let png = sample_image(image::ImageFormat::Png);
    let part = Part { name: "avatar", filename: Some("a.png"), content_type: "image/png", data: &png };
    c.post_multipart("/api/v1.0/user/avatar", &[part]).await.assert("0", "OK");
    c.put_json("/api/v1.0/user/name", &json!({"name": "将注销的人"})).await.assert("0", "OK");
    c.post_json("/api/v1.0/user/auth", &json!({"real_name": "张三", "id_card": "11010519491231002X"}))
        .await
        .assert("0", "OK");
    let mut phone = t.client();
    phone.post_json(LOGIN, &json!({"mobile": mobile, "password": password})).await.assert("0", "OK");

    c.delete_json(USER, &json!({"password": "not the password"})).await.assert("4106", "密码错误");
    c.delete_json(USER, &json!({})).await.assert("4103", "参数不完整");
    c.get(USER).await.assert("0", "OK");
    let r = c.delete_json(USER, &json!({"password": password})).await;
    r.assert("0", "账号已注销");
    assert!(r.set_cookies[0].contains("Max-Age=0"));

    phone.get(USER).await.assert("4101", "用户未登录");
    let objects = t.s3.list_objects_v2().bucket(&t.bucket).send().await.unwrap();
    assert!(objects.contents().is_empty(), "the avatar object is gone");
    let mut fresh = t.client();
    fresh.post_json(LOGIN, &json!({"mobile": mobile, "password": password})).await.assert("4004", "用户名或密码错误");
    // The name is free, and the mobile registers a new, empty account.
    let (mut someone, _, _) = t.registered_user().await;
    someone.put_json("/api/v1.0/user/name", &json!({"name": "将注销的人"})).await.assert("0", "OK");
    let code = fresh.request_sms_fixture(&mobile).await;
    fresh
        .post_json("/api/v1.0/users", &json!({"mobile": mobile, "sms_code": code, "password": "password123"}))
        .await
        .assert("0", "OK");
    let profile = fresh.get(USER).await.data();
    assert_eq!((profile["name"].as_str(), profile["avatar_url"].as_str()), (Some(mobile.as_str()), Some("")));
    assert_eq!(fresh.get("/api/v1.0/user/auth").await.data()["real_name"], serde_json::Value::Null);
}

/// An avatar uploaded while the account is being deleted is not left behind: either the upload
/// lands first and the deletion (as read) retries and deletes it, or the account goes first and
/// the upload, finding no user, removes its object.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_upload_racing_the_deletion_leaves_no_object() {
    for _ in 0..4 {
        let t = TestApp::spawn().await;
        let (c, _, password) = t.registered_user().await;
        let png = sample_image(image::ImageFormat::Png);
        let (mut uploader, mut deleter) = (c.clone(), c.clone());
        let upload = async move {
            let part = Part { name: "avatar", filename: Some("a.png"), content_type: "image/png", data: &png };
            uploader.post_multipart("/api/v1.0/user/avatar", &[part]).await.errno()
        };
        let delete = async move { deleter.delete_json(USER, &json!({"password": password})).await };
        let (uploaded, deleted) = tokio::join!(upload, delete);
        deleted.assert("0", "账号已注销");
        assert!(["0", "4002", "4101"].contains(&uploaded.as_str()), "{uploaded}");
        let objects = t.s3.list_objects_v2().bucket(&t.bucket).send().await.unwrap();
        assert!(objects.contents().is_empty(), "an object outlived its account (upload answered {uploaded})");
    }
}

/// The order that makes a retry safe: the avatar object first, then the items in one transaction.
/// S3 failing deletes nothing; the transaction failing leaves a whole account (without its
/// picture), and the user's retry finishes the job.
#[tokio::test]
async fn a_deletion_that_fails_half_way_leaves_a_whole_account_and_a_retry_finishes() {
    // S3 unreachable: nothing is deleted.
    let t = TestApp::builder().s3_sdk(unreachable_sdk_config().await).build().await;
    let (mut c, _, password) = t.registered_user().await;
    let uid = c.session_token().and_then(|t| UserId::parse(t.split_once('.')?.0)).unwrap();
    let url = format!("{}avatars/{}.png", t.app.config.avatar_base_url, "ab".repeat(16));
    t.app.store.set_avatar_url(uid, &url).await.unwrap();
    c.delete_json(USER, &json!({"password": password})).await.assert("4301", "删除头像失败");
    assert_eq!(c.get(USER).await.data()["avatar_url"], url.as_str(), "nothing deleted");

    // The transaction failing: the object is gone, the account whole; the retry deletes it.
    let t = TestApp::spawn().await;
    let (mut c, mobile, password) = t.registered_user().await;
    let png = sample_image(image::ImageFormat::Png);
    let part = Part { name: "avatar", filename: Some("a.png"), content_type: "image/png", data: &png };
    c.post_multipart("/api/v1.0/user/avatar", &[part]).await.assert("0", "OK");
    t.calls.fail(&["TransactWriteItems"]);
    c.delete_json(USER, &json!({"password": password})).await.assert("4001", "注销账号失败");
    t.calls.fail(&[]);
    let objects = t.s3.list_objects_v2().bucket(&t.bucket).send().await.unwrap();
    assert!(objects.contents().is_empty(), "the object went first");
    c.get(USER).await.assert("0", "OK");
    let mut phone = t.client();
    phone.post_json(LOGIN, &json!({"mobile": mobile, "password": password})).await.assert("0", "OK");
    c.delete_json(USER, &json!({"password": password})).await.assert("0", "账号已注销");
    phone.get(USER).await.assert("4101", "用户未登录");
}

/// Benchmark, not a test (`scripts/bench-reset.sh` runs it): the time of a reset code request for
/// a mobile with an account (an SMS published to moto's SNS) and without one (nothing sent, a
/// wait as long as this process's sends take), interleaved, through the same route. Prints the
/// medians and spreads; asserts nothing about time.
#[tokio::test]
#[ignore = "a benchmark: scripts/bench-reset.sh"]
async fn bench_reset_code_timing_with_and_without_an_account() {
    use ihome::config::Limits;
    use ihome::limits::Quota;
    use std::time::Instant;
    let rounds = std::env::var("IHOME_BENCH_ROUNDS").ok().and_then(|r| r.parse().ok()).unwrap_or(40);
    let many = Quota::new(1_000_000, 3600);
    let limits = Limits { sms_per_ip: many, sms_per_mobile: many, sms_total: many, ..Limits::default() };
    let t = TestApp::builder().config(|c| c.limits = limits).build().await;
    let (_, registered, _) = t.registered_user().await;
    let nobody = unique_mobile();
    let mut c = t.client();
    let (mut with, mut without) = (Vec::new(), Vec::new());
    for round in 0..rounds {
        // Past the 60 s gap, on the test's clock.
        t.clock.advance(61);
        let order = if round % 2 == 0 { [&registered, &nobody] } else { [&nobody, &registered] };
        for mobile in order {
            let id = format!("bench-{round}-{mobile}");
            let text = c.captcha_text(&id).await;
            let query = [("text", text.as_str()), ("id", id.as_str()), ("purpose", "reset")];
            let started = Instant::now();
            let r = c.get_query(&format!("/api/v1.0/smscode/{mobile}"), &query).await;
            let took = started.elapsed().as_secs_f64() * 1000.0;
            r.assert("0", "发送成功");
            if mobile == &registered { with.push(took) } else { without.push(took) }
        }
    }
    let stats = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        let at = |q: f64| v[((v.len() - 1) as f64 * q).round() as usize];
        format!("median {:6.2} ms  p10 {:6.2}  p90 {:6.2}", at(0.5), at(0.1), at(0.9))
    };
    println!("reset code, {rounds} requests each, interleaved:");
    println!("  account (SMS published): {}", stats(&mut with));
    println!("  no account (not sent):   {}", stats(&mut without));
    assert_eq!(sent_sms(&nobody).await.len(), 0);
}
