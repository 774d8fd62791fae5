use ihome_tests::{T0, TestApp, unreachable_sdk_config};

#[tokio::test]
async fn serves_a_png_and_stores_its_answer_for_300_seconds() {
    let t = TestApp::spawn().await;
    let mut c = t.client();
    let r = c.get("/api/v1.0/imagecode/6a1f0c3e-2b7d-4c1e-9f00-1234567890ab").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("image/png"));
    assert_eq!(r.header("cache-control"), Some("no-store"));
    assert_eq!(&r.body[..8], b"\x89PNG\r\n\x1a\n");
    let text = t.peek_image_code("6a1f0c3e-2b7d-4c1e-9f00-1234567890ab").await.unwrap();
    assert_eq!(text.len(), 4);

    let item = t
        .dynamo
        .get_item()
        .table_name(&t.table)
        .key("pk", aws_sdk_dynamodb::types::AttributeValue::S("IMG#6a1f0c3e-2b7d-4c1e-9f00-1234567890ab".into()))
        .send()
        .await
        .unwrap()
        .item
        .unwrap();
    assert_eq!(item["expires_at"].as_n().unwrap(), &(T0 + 300).to_string());
}

#[tokio::test]
async fn a_new_image_replaces_the_old_answer() {
    let t = TestApp::spawn().await;
    let mut c = t.client();
    let mut answers = std::collections::HashSet::new();
    for _ in 0..5 {
        c.get("/api/v1.0/imagecode/same-id").await;
        answers.insert(t.peek_image_code("same-id").await.unwrap());
    }
    assert!(answers.len() > 1, "answers are random");
}

#[tokio::test]
async fn odd_ids_are_paramerr() {
    let t = TestApp::spawn().await;
    let mut c = t.client();
    let long = "a".repeat(65);
    for id in ["a%20b", "a.b", "%E4%BD%A0", long.as_str(), "a'b", "..", "a%2Fb"] {
        let r = c.get(&format!("/api/v1.0/imagecode/{id}")).await;
        assert_eq!(r.errno(), "4103", "{id}: {}", r.text());
    }
}

#[tokio::test]
async fn store_failure_is_dberr() {
    let t = TestApp::builder().dynamo_sdk(unreachable_sdk_config().await).build().await;
    // The address's captcha budget is the first thing read.
    let r = t.client().get("/api/v1.0/imagecode/abc").await;
    r.assert("4001", "查询请求次数失败");
}
