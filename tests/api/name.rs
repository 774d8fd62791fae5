use futures_util::future::join_all;
use ihome_tests::TestApp;
use serde_json::json;

const NAME: &str = "/api/v1.0/user/name";

#[tokio::test]
async fn renames_trimmed_and_shows_it_everywhere() {
    let t = TestApp::spawn().await;
    let (mut c, _, _) = t.registered_user().await;
    let r = c.put_json(NAME, &json!({"name": "  小明的家  "})).await;
    r.assert("0", "OK");
    assert_eq!(r.data(), json!({"name": "小明的家"}));
    assert_eq!(c.get("/api/v1.0/user").await.data()["name"], "小明的家");
    assert_eq!(c.get("/api/v1.0/session").await.data()["name"], "小明的家");
}

#[tokio::test]
async fn names_are_unique_and_freed_on_rename() {
    let t = TestApp::spawn().await;
    let (mut a, _, _) = t.registered_user().await;
    let (mut b, _, _) = t.registered_user().await;
    a.put_json(NAME, &json!({"name": "taken"})).await.assert("0", "OK");
    // DBERR "4001", as the original backend answered and the iHome page expects.
    b.put_json(NAME, &json!({"name": "taken"})).await.assert("4001", "用户名已存在");
    // Setting your own name again is fine.
    a.put_json(NAME, &json!({"name": "taken"})).await.assert("0", "OK");
    a.put_json(NAME, &json!({"name": "another"})).await.assert("0", "OK");
    b.put_json(NAME, &json!({"name": "taken"})).await.assert("0", "OK");
    a.put_json(NAME, &json!({"name": "taken"})).await.assert("4001", "用户名已存在");
}

#[tokio::test]
async fn mobile_numbers_are_reserved_for_their_owner() {
    let t = TestApp::spawn().await;
    let (mut a, mobile_a, _) = t.registered_user().await;
    let (mut b, _, _) = t.registered_user().await;
    b.put_json(NAME, &json!({"name": mobile_a})).await.assert("4103", "不能使用他人的手机号作为用户名");
    a.put_json(NAME, &json!({"name": "custom"})).await.assert("0", "OK");
    // Back to one's own mobile: allowed, and "custom" is free again.
    a.put_json(NAME, &json!({"name": mobile_a})).await.assert("0", "OK");
    b.put_json(NAME, &json!({"name": "custom"})).await.assert("0", "OK");
}

#[tokio::test]
async fn bad_names_are_paramerr() {
    let t = TestApp::spawn().await;
    let (mut c, _, _) = t.registered_user().await;
    c.put_json(NAME, &json!({})).await.assert("4103", "参数不完整");
    c.put_json(NAME, &json!({"name": "   "})).await.assert("4103", "参数不完整");
    for bad in ["a\u{0}b", "line\nbreak", &"名".repeat(33)] {
        c.put_json(NAME, &json!({"name": bad})).await.assert("4103", "用户名须为1-32个字符，且不能含控制字符");
    }
    c.put_json(NAME, &json!({"name": 42})).await.assert("4103", "参数格式错误");
    let mut anon = t.client();
    anon.put_json(NAME, &json!({"name": "x"})).await.assert("4101", "用户未登录");
}

#[tokio::test]
async fn a_failed_save_is_dberr_and_changes_nothing() {
    let t = TestApp::spawn().await;
    let (mut c, mobile, _) = t.registered_user().await;
    t.calls.fail(&["TransactWriteItems"]);
    c.put_json(NAME, &json!({"name": "never"})).await.assert("4001", "保存用户信息失败");
    t.calls.fail(&[]);
    assert_eq!(c.get("/api/v1.0/user").await.data()["name"], mobile.as_str());
    let (mut other, _, _) = t.registered_user().await;
    other.put_json(NAME, &json!({"name": "never"})).await.assert("0", "OK");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn users_racing_for_one_name_leave_one_winner() {
    let t = TestApp::spawn().await;
    let mut users = Vec::new();
    for _ in 0..20 {
        users.push(t.registered_user().await.0);
    }
    let answers = join_all(
        users.iter_mut().map(|c| async move { c.put_json(NAME, &json!({"name": "抢手的名字"})).await.errno() }),
    )
    .await;
    assert_eq!(answers.iter().filter(|e| *e == "0").count(), 1, "{answers:?}");
    assert!(answers.iter().all(|e| e == "0" || e == "4001"), "{answers:?}");
    let mut holders = 0;
    for c in &mut users {
        if c.get("/api/v1.0/user").await.data()["name"] == "抢手的名字" {
            holders += 1;
        }
    }
    assert_eq!(holders, 1);
}

/// Thirty clients sharing one session.
async fn one_user_thirty_times(t: &TestApp) -> Vec<ihome_tests::Client> {
    let (c, _, _) = t.registered_user().await;
    let token = c.session_token().expect("logged in");
    (0..30)
        .map(|_| {
            let mut k = t.client();
            k.set_cookie("session", &token);
            k
        })
        .collect()
}

/// Hostile testing: one user renaming themselves 30 times at once got DBERR answers after the
/// retries ran out, which the profile page shows as 用户名已存在.
#[tokio::test]
async fn one_user_racing_themselves_to_one_name_always_succeeds() {
    let t = TestApp::spawn().await;
    let mut clients = one_user_thirty_times(&t).await;
    let answers = join_all(clients.iter_mut().map(|k| async move {
        let r = k.put_json(NAME, &json!({"name": "我自己的名字"})).await;
        (r.errno(), r.errmsg())
    }))
    .await;
    assert!(answers.iter().all(|(e, _)| e == "0"), "{answers:?}");
    assert_eq!(clients[0].get("/api/v1.0/user").await.data()["name"], "我自己的名字");
}

#[tokio::test]
async fn one_user_racing_themselves_to_many_names_is_never_told_a_name_is_taken() {
    let t = TestApp::spawn().await;
    let mut clients = one_user_thirty_times(&t).await;
    let names: Vec<String> = (0..30).map(|i| format!("名字{i}")).collect();
    let answers = join_all(clients.iter_mut().zip(&names).map(|(k, name)| async move {
        let r = k.put_json(NAME, &json!({ "name": name })).await;
        (r.errno(), r.errmsg())
    }))
    .await;
    assert!(
        answers.iter().all(|(e, m)| e == "0" || (e == "4001" && m != "用户名已存在")),
        "a rename racing only its own user was told the name is taken: {answers:?}"
    );
    // The last writer's name holds; every other name is free for anyone.
    let last = clients[0].get("/api/v1.0/user").await.data()["name"].as_str().unwrap().to_owned();
    assert!(names.contains(&last), "{last}");
    let (mut other, _, _) = t.registered_user().await;
    for name in names.iter().filter(|n| **n != last) {
        other.put_json(NAME, &json!({ "name": name })).await.assert("0", "OK");
    }
    other.put_json(NAME, &json!({ "name": last })).await.assert("4001", "用户名已存在");
}

/// Hostile testing: look-alike names. Names are compared by their confusable skeleton (UTS #39),
/// so a name that only looks like a taken one is taken too.
#[tokio::test]
async fn look_alikes_of_a_taken_name_are_taken() {
    let t = TestApp::spawn().await;
    let (mut a, _, _) = t.registered_user().await;
    let (mut b, _, _) = t.registered_user().await;
    a.put_json(NAME, &json!({"name": "Alice"})).await.assert("0", "OK");
    for look_alike in [
        "Аӏісе",      // all Cyrillic: one script, so only the skeleton tells it from "Alice"
        "AIice",      // capital I for the l
        "Ａｌｉｃｅ", // full width: NFKC makes it "Alice" itself
        "alice",      // case does not make a new name
    ] {
        b.put_json(NAME, &json!({ "name": look_alike })).await.assert("4001", "用户名已存在");
    }
    // Cyrillic А with Latin "lice" mixes scripts: refused before uniqueness is asked.
    b.put_json(NAME, &json!({"name": "Аlice"}))
        .await
        .assert("4103", "用户名不能混用多种文字（拉丁字母可与中文、日文或韩文同用）");
    assert_ne!(b.get("/api/v1.0/user").await.data()["name"], "Аlice");

    // The holder may move between look-alikes of its own name and keeps the name guarded.
    a.put_json(NAME, &json!({"name": "alice"})).await.assert("0", "OK");
    b.put_json(NAME, &json!({"name": "Alice"})).await.assert("4001", "用户名已存在");
    // Renaming away frees every look-alike.
    a.put_json(NAME, &json!({"name": "Bob"})).await.assert("0", "OK");
    b.put_json(NAME, &json!({"name": "Аӏісе"})).await.assert("0", "OK");
    a.put_json(NAME, &json!({"name": "Alice"})).await.assert("4001", "用户名已存在");
}

#[tokio::test]
async fn invisible_and_bidi_characters_are_paramerr() {
    let t = TestApp::spawn().await;
    let (mut c, mobile, _) = t.registered_user().await;
    for bad in [
        "Alice\u{200B}",    // zero-width space
        "\u{200B}\u{200B}", // nothing visible at all
        "\u{202E}ecilA",    // right-to-left override
        "A\u{2060}lice",    // word joiner
        "\u{FEFF}Alice",    // byte order mark
        "Ali\u{2028}ce",    // line separator
    ] {
        c.put_json(NAME, &json!({ "name": bad })).await.assert("4103", "用户名须为1-32个字符，且不能含控制字符");
    }
    assert_eq!(c.get("/api/v1.0/user").await.data()["name"], mobile.as_str());
}

/// Full-width digits are the digits after NFKC, so another user's mobile in full width is still
/// that mobile.
#[tokio::test]
async fn full_width_digits_of_a_mobile_are_that_mobile() {
    let t = TestApp::spawn().await;
    let (mut a, mobile_a, _) = t.registered_user().await;
    let (mut b, mobile_b, _) = t.registered_user().await;
    let wide: String =
        mobile_a.chars().map(|d| char::from_u32(u32::from(d) - u32::from('0') + 0xFF10).unwrap()).collect();
    b.put_json(NAME, &json!({ "name": wide })).await.assert("4103", "不能使用他人的手机号作为用户名");
    assert_eq!(b.get("/api/v1.0/user").await.data()["name"], mobile_b.as_str());
    // Its owner may, and gets the plain digits.
    a.put_json(NAME, &json!({"name": "custom"})).await.assert("0", "OK");
    let r = a.put_json(NAME, &json!({ "name": wide })).await;
    r.assert("0", "OK");
    assert_eq!(r.data(), json!({ "name": mobile_a }));
}

/// Letters that pass for digits (O for 0, l for 1) make a look-alike of a mobile number: as
/// reserved as the number itself.
#[tokio::test]
async fn look_alikes_of_a_mobile_are_reserved() {
    let t = TestApp::spawn().await;
    let (_, mobile_a, _) = t.registered_user().await;
    let (mut b, _, _) = t.registered_user().await;
    let look_alike = mobile_a.replace('0', "O").replace('1', "l");
    b.put_json(NAME, &json!({ "name": look_alike })).await.assert("4103", "不能使用他人的手机号作为用户名");
}

/// Login comes first, as the original's `@login_required`: an ended session with a bad body is
/// SESSIONERR (the page sends the user to log in), not PARAMERR, and nothing of the body is read.
#[tokio::test]
async fn an_ended_session_is_sessionerr_before_the_body_is_judged() {
    let t = TestApp::spawn().await;
    let mut stale = t.ended_session_client().await;
    for body in [json!({}), json!({"name": ""}), json!({"name": "\u{200b}"}), json!({"other": 1})] {
        stale.put_json(NAME, &body).await.assert("4101", "用户未登录");
    }
}
