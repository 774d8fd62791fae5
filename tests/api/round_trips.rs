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
    assert_eq!(t.calls.take(), ["BatchGetItem"], "GET /user: 1 round trip");
    c.get("/api/v1.0/session").await.assert("0", "OK");
    assert_eq!(t.calls.take(), ["BatchGetItem"], "GET /session: 1 round trip");
    c.delete("/api/v1.0/session").await.assert("0", "OK");
    assert_eq!(t.calls.take(), ["DeleteItem"], "logout: 1 round trip");

    c.post_json("/api/v1.0/sessions", &json!({"mobile": mobile, "password": "password123"})).await.assert("0", "OK");
    let calls = t.calls.take();
    // GetItem (credentials) with PutItem (the attempt opens this address's window: a success
    // deleted the last one) and UpdateItem (the mobile's budget), then PutItem (session) with
    // DeleteItem (the address's count) and UpdateItem (the budget's unit given back).
    assert_eq!(sorted(calls[..3].to_vec()), ["GetItem", "PutItem", "UpdateItem"], "login: 2 round trips");
    assert_eq!(sorted(calls[3..].to_vec()), ["DeleteItem", "PutItem", "UpdateItem"], "login: 2 round trips");

    let png = sample_image(image::ImageFormat::Png);
    let part = Part { name: "avatar", filename: Some("a.png"), content_type: "image/png", data: &png };
    c.post_multipart("/api/v1.0/user/avatar", &[part]).await.assert("0", "OK");
    assert_eq!(t.calls.take(), ["BatchGetItem", "UpdateItem"], "avatar: 2 round trips + S3");
    c.put_json("/api/v1.0/user/name", &json!({"name": "rt-name"})).await.assert("0", "OK");
    assert_eq!(t.calls.take(), ["BatchGetItem", "TransactWriteItems"], "name: 2 round trips");
    c.post_json("/api/v1.0/user/auth", &json!({"real_name": "张三", "id_card": "11010519491231002X"}))
        .await
        .assert("0", "OK");
    assert_eq!(t.calls.take(), ["BatchGetItem", "UpdateItem"], "auth POST: 2 round trips");
    c.get("/api/v1.0/user/auth").await.assert("0", "OK");
    assert_eq!(t.calls.take(), ["BatchGetItem"], "auth GET: 1 round trip");
}
