use ihome_tests::sample_image;
use ihome_tests::{AVATAR_BASE, Part, TestApp, unique_mobile};
use serde_json::json;

/// captcha → SMS → register → GET /user → GET /session → logout → 4101 → login → GET /session.
async fn whole_flow(bearer: bool) {
    let t = TestApp::spawn().await;
    let mut c = t.client();
    let mobile = unique_mobile();
    let code = c.request_sms(&mobile).await;
    let r = c
        .post_json(
            "/api/v1.0/users",
            &json!({"mobile": mobile, "sms_code": code, "password": "s3cret-pass", "password2": "s3cret-pass"}),
        )
        .await;
    r.assert("0", "OK");
    let user_id = r.data()["user_id"].clone();
    assert!(r.set_cookies[0].contains("HttpOnly; Secure; SameSite=Lax; Max-Age=86400"));
    if bearer {
        let token = c.session_token();
        c.forget_cookies();
        c.use_bearer(token);
    }

    let me = c.get("/api/v1.0/user").await;
    me.assert("0", "OK");
    assert_eq!(me.data()["user_id"], user_id);
    assert_eq!(me.data()["mobile"], mobile.as_str());
    let s = c.get("/api/v1.0/session").await;
    s.assert("0", "OK");
    assert_eq!(s.data(), json!({"user_id": user_id, "name": mobile}));

    // Profile: avatar, name, real-name verification, all read back.
    let png = sample_image(image::ImageFormat::Png);
    let part = Part { name: "avatar", filename: Some("me.png"), content_type: "image/png", data: &png };
    let up = c.post_multipart("/api/v1.0/user/avatar", &[part]).await;
    up.assert("0", "OK");
    let avatar = up.data()["avatar_url"].as_str().unwrap().to_owned();
    assert!(avatar.starts_with(AVATAR_BASE));
    c.put_json("/api/v1.0/user/name", &json!({"name": "旅行者"})).await.assert("0", "OK");
    c.post_json("/api/v1.0/user/auth", &json!({"real_name": "张三", "id_card": "11010519491231002X"}))
        .await
        .assert("0", "OK");
    let me = c.get("/api/v1.0/user").await;
    assert_eq!(
        (&me.data()["name"], &me.data()["avatar"], &me.data()["avatar_url"]),
        (&json!("旅行者"), &json!(avatar), &json!(avatar))
    );
    assert_eq!(
        c.get("/api/v1.0/user/auth").await.data(),
        json!({"user_id": user_id, "real_name": "张三", "id_card": "110105********002X"})
    );
    assert_eq!(c.get("/api/v1.0/session").await.data(), json!({"user_id": user_id, "name": "旅行者"}));

    let old_token = c.session_token();
    c.delete("/api/v1.0/session").await.assert("0", "OK");
    c.get("/api/v1.0/session").await.assert("4101", "用户未登录");
    // The same token, replayed after logout, is dead server-side.
    if let Some(token) = old_token {
        c.set_cookie("session", &token);
    }
    c.get("/api/v1.0/user").await.assert("4101", "用户未登录");
    c.get("/api/v1.0/session").await.assert("4101", "用户未登录");
    c.forget_cookies();

    c.use_bearer(None);
    let r = c.post_json("/api/v1.0/sessions", &json!({"mobile": mobile, "password": "s3cret-pass"})).await;
    r.assert("0", "OK");
    assert_eq!(r.data(), json!({"user_id": user_id}));
    if bearer {
        let token = c.session_token();
        c.forget_cookies();
        c.use_bearer(token);
    }
    let s = c.get("/api/v1.0/session").await;
    s.assert("0", "OK");
    assert_eq!(s.data()["name"], "旅行者");
    assert_eq!(c.get("/api/v1.0/user").await.data()["avatar_url"], avatar.as_str());
}

#[tokio::test]
async fn whole_flow_with_a_cookie_jar() {
    whole_flow(false).await;
}

#[tokio::test]
async fn whole_flow_with_bearer_tokens() {
    whole_flow(true).await;
}
