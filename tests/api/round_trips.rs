//! DynamoDB requests per route on the success path, counted by an SDK interceptor.
//! Requests a route sends concurrently (tokio::join!) share one round trip of latency.

use ihome_tests::sample_image;
use ihome_tests::{Part, TestApp, unique_mobile};
use serde_json::json;

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

#[tokio::test]
async fn requests_per_route() {
    let t = TestApp::spawn().await;
    let mut c = t.client();
    let mobile = unique_mobile();

    c.get("/api/v1.0/imagecode/rt").await;
    // The address's captcha budget before any drawing, then the answer stored while drawing.
    assert_eq!(t.calls.take(), ["UpdateItem", "PutItem"], "imagecode: 2 round trips");
    let text = t.peek_image_code("rt").await.unwrap();

    c.get_query(&format!("/api/v1.0/smscode/{mobile}"), &[("text", &text), ("id", "rt")]).await.assert("0", "发送成功");
    let calls = t.calls.take();
    // DeleteItem (captcha) and GetItem (mobile) run together, then three UpdateItems together
    // (the address's, the mobile's and the stack's budgets), then the conditional PutItem (the
    // mobile's 60 s gap: after the budgets, so that a burst for one mobile still has its winner).
    assert_eq!(sorted(calls[..2].to_vec()), ["DeleteItem", "GetItem"]);
    assert_eq!(calls[2..5], ["UpdateItem", "UpdateItem", "UpdateItem"], "smscode: the budgets");
    assert_eq!(calls[5..], ["PutItem"], "smscode: 3 round trips + SNS");

    let code = ihome_tests::last_sms_code(&mobile).await.unwrap();
    c.post_json("/api/v1.0/users", &json!({"mobile": mobile, "sms_code": code, "password": "password123"}))
        .await
        .assert("0", "OK");
    let calls = t.calls.take();
    // The address's budget and the code's check-out together (both UpdateItem), then the account.
    assert_eq!(calls, ["UpdateItem", "UpdateItem", "TransactWriteItems"], "register: 2 round trips");

    c.get("/api/v1.0/user").await.assert("0", "OK");
    assert_eq!(t.calls.take(), ["GetItem"], "GET /user: 1 round trip");
    c.get("/api/v1.0/session").await.assert("0", "OK");
    assert_eq!(t.calls.take(), ["GetItem"], "GET /session: 1 round trip");
    c.delete("/api/v1.0/session").await.assert("0", "OK");
    assert_eq!(t.calls.take(), ["UpdateItem"], "logout: 1 round trip");

    c.post_json("/api/v1.0/sessions", &json!({"mobile": mobile, "password": "password123"})).await.assert("0", "OK");
    let calls = t.calls.take();
    // GetItem (credentials) with PutItem (the attempt opens this address's window: a success
    // deleted the last one) and UpdateItem (the mobile's budget), then the session added to the
    // user's index on condition of the password (TransactWriteItems) with DeleteItem (the
    // address's count) and UpdateItem (the budget's unit given back).
    assert_eq!(sorted(calls[..3].to_vec()), ["GetItem", "PutItem", "UpdateItem"], "login: 2 round trips");
    let second = sorted(calls[3..].to_vec());
    assert_eq!(second, ["DeleteItem", "TransactWriteItems", "UpdateItem"], "login: 2 round trips");

    let png = sample_image(image::ImageFormat::Png);
    let part = Part { name: "avatar", filename: Some("a.png"), content_type: "image/png", data: &png };
    c.post_multipart("/api/v1.0/user/avatar", &[part]).await.assert("0", "OK");
    assert_eq!(t.calls.take(), ["GetItem", "UpdateItem"], "avatar: 2 round trips + S3");
    c.put_json("/api/v1.0/user/name", &json!({"name": "rt-name"})).await.assert("0", "OK");
    assert_eq!(t.calls.take(), ["GetItem", "TransactWriteItems"], "name: 2 round trips");
    c.post_json("/api/v1.0/user/auth", &json!({"real_name": "张三", "id_card": "11010519491231002X"}))
        .await
        .assert("0", "OK");
    assert_eq!(t.calls.take(), ["GetItem", "UpdateItem"], "auth POST: 2 round trips");
    c.get("/api/v1.0/user/auth").await.assert("0", "OK");
    assert_eq!(t.calls.take(), ["GetItem"], "auth GET: 1 round trip");

    // The account routes. A new password: the session (GetItem); the credentials (GetItem) with
    // the attempt (PutItem) and the mobile's budget (UpdateItem); then the change
    // (TransactWriteItems) with the attempt settled (DeleteItem, UpdateItem).
    let change = json!({"old_password": "password123", "new_password": "password456"});
    c.put_json("/api/v1.0/user/password", &change).await.assert("0", "密码已修改");
    let calls = t.calls.take();
    assert_eq!(calls[..1], ["GetItem"], "new password: 3 round trips");
    assert_eq!(sorted(calls[1..4].to_vec()), ["GetItem", "PutItem", "UpdateItem"], "new password: 3 round trips");
    assert_eq!(sorted(calls[4..].to_vec()), ["DeleteItem", "TransactWriteItems", "UpdateItem"]);

    c.delete("/api/v1.0/user/sessions").await.assert("0", "OK");
    assert_eq!(t.calls.take(), ["UpdateItem"], "log out everywhere: 1 round trip");

    // A reset code costs what a registration code costs; the reset itself: the address's budget,
    // the code's check-out and the credentials together, then one transaction with the address's
    // login failures cleared.
    let r = c.request_reset(&mobile).await;
    r.assert("0", "发送成功");
    let calls = t.calls.take();
    assert_eq!(calls[..2], ["UpdateItem", "PutItem"], "the captcha");
    assert_eq!(sorted(calls[2..4].to_vec()), ["DeleteItem", "GetItem"], "reset code: as smscode");
    assert_eq!(calls[4..], ["UpdateItem", "UpdateItem", "UpdateItem", "PutItem"], "reset code: 3 round trips + SNS");
    let code = ihome_tests::last_sms_code(&mobile).await.unwrap();
    let reset = json!({"mobile": mobile, "sms_code": code, "password": "password789"});
    c.post_json("/api/v1.0/password/reset", &reset).await.assert("0", "密码已重置");
    let calls = t.calls.take();
    assert_eq!(sorted(calls[..3].to_vec()), ["GetItem", "UpdateItem", "UpdateItem"], "reset: 2 round trips");
    assert_eq!(sorted(calls[3..].to_vec()), ["DeleteItem", "TransactWriteItems"], "reset: 2 round trips");

    c.post_json("/api/v1.0/sessions", &json!({"mobile": mobile, "password": "password789"})).await.assert("0", "OK");
    t.calls.take();
    // Deleting the account: the session; the credentials, attempt and budget; then the avatar
    // object (S3) and the items (TransactWriteItems) with the attempt settled.
    c.delete_json("/api/v1.0/user", &json!({"password": "password789"})).await.assert("0", "账号已注销");
    let calls = t.calls.take();
    assert_eq!(calls[..1], ["GetItem"], "delete account: 3 round trips + S3");
    assert_eq!(sorted(calls[1..4].to_vec()), ["GetItem", "PutItem", "UpdateItem"]);
    assert_eq!(sorted(calls[4..].to_vec()), ["DeleteItem", "TransactWriteItems", "UpdateItem"]);
}
