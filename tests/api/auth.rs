use futures_util::future::join_all;
use ihome_tests::TestApp;
use serde_json::json;

const AUTH: &str = "/api/v1.0/user/auth";
const ID: &str = "11010519491231002X";

#[tokio::test]
async fn verifies_once_and_reads_back_masked() {
    let t = TestApp::spawn().await;
    let (mut c, _, _) = t.registered_user().await;
    let uid = c.get("/api/v1.0/user").await.data()["user_id"].clone();
    let r = c.get(AUTH).await;
    r.assert("0", "OK");
    assert_eq!(r.data(), json!({"user_id": uid, "real_name": null, "id_card": null}));

    c.post_json(AUTH, &json!({"real_name": "张三", "id_card": "11010519491231002x"})).await.assert("0", "OK");
    let r = c.get(AUTH).await;
    assert_eq!(r.data(), json!({"user_id": uid, "real_name": "张三", "id_card": "110105********002X"}));
    assert!(!r.text().contains(ID));

    c.post_json(AUTH, &json!({"real_name": "李四", "id_card": ID})).await.assert("4003", "已实名认证");
    assert_eq!(c.get(AUTH).await.data()["real_name"], "张三");
}

#[tokio::test]
async fn bad_fields_say_which() {
    let t = TestApp::spawn().await;
    let (mut c, _, _) = t.registered_user().await;
    c.post_json(AUTH, &json!({"real_name": "张三"})).await.assert("4103", "参数不完整");
    c.post_json(AUTH, &json!({"id_card": ID})).await.assert("4103", "参数不完整");
    for bad_id in ["110105194912310021", "11010519491331002X", "1101051949123100", "99010519491231002X"] {
        c.post_json(AUTH, &json!({"real_name": "张三", "id_card": bad_id})).await.assert("4103", "身份证号码格式错误");
    }
    for bad_name in ["张", "张3", "·张三"] {
        c.post_json(AUTH, &json!({"real_name": bad_name, "id_card": ID})).await.assert("4103", "真实姓名格式错误");
    }
    assert_eq!(c.get(AUTH).await.data()["real_name"], serde_json::Value::Null, "nothing saved");
    let mut anon = t.client();
    anon.post_json(AUTH, &json!({"real_name": "张三", "id_card": ID})).await.assert("4101", "用户未登录");
    anon.get(AUTH).await.assert("4101", "用户未登录");
}

#[tokio::test]
async fn a_failed_save_is_dberr() {
    let t = TestApp::spawn().await;
    let (mut c, _, _) = t.registered_user().await;
    t.calls.fail(&["UpdateItem"]);
    c.post_json(AUTH, &json!({"real_name": "张三", "id_card": ID})).await.assert("4001", "保存用户实名信息失败");
    t.calls.fail(&[]);
    assert_eq!(c.get(AUTH).await.data()["real_name"], serde_json::Value::Null);
}

#[tokio::test]
async fn user_gone_is_sessionerr() {
    let t = TestApp::spawn().await;
    let (mut c, _, _) = t.registered_user().await;
    t.delete_user(&c).await;
    c.get(AUTH).await.assert("4101", "用户未登录");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_verifications_leave_one_record() {
    let t = TestApp::spawn().await;
    let (c, _, _) = t.registered_user().await;
    let names = ["张三", "李四", "王五", "赵六"];
    let answers = join_all((0..24).map(|i| {
        let mut c = c.clone();
        let name = names[i % names.len()];
        async move { c.post_json(AUTH, &json!({"real_name": name, "id_card": ID})).await.errno() }
    }))
    .await;
    assert_eq!(answers.iter().filter(|e| *e == "0").count(), 1, "{answers:?}");
    assert!(answers.iter().all(|e| e == "0" || e == "4003"), "{answers:?}");
    let mut c = c.clone();
    let record = c.get(AUTH).await.data();
    assert!(names.contains(&record["real_name"].as_str().unwrap()));
}

/// Login comes first, as the original's `@login_required`: an ended session with a bad body is
/// SESSIONERR, not PARAMERR.
#[tokio::test]
async fn an_ended_session_is_sessionerr_before_the_body_is_judged() {
    let t = TestApp::spawn().await;
    let mut stale = t.ended_session_client().await;
    for body in [json!({}), json!({"real_name": "张三"}), json!({"real_name": "张三", "id_card": "123"})] {
        stale.post_json(AUTH, &body).await.assert("4101", "用户未登录");
    }
}
