//! N concurrent requests against moto's server; exactly one winner each time.

use std::collections::HashSet;

use futures_util::future::join_all;
use ihome_tests::{TestApp, last_sms_code, sent_sms, unique_mobile};
use serde_json::json;

const N: usize = 24;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_captcha_used_by_many_requests_lets_one_through() {
    let t = TestApp::spawn().await;
    let mut c = t.client();
    let text = c.captcha_text("shared-captcha").await;
    // Different mobiles, so only the captcha is contended.
    let mobiles: Vec<String> = (0..N).map(|_| unique_mobile()).collect();
    let answers = join_all(mobiles.iter().map(|m| {
        let mut c = t.client();
        let text = text.clone();
        async move {
            c.get_query(&format!("/api/v1.0/smscode/{m}"), &[("text", &text), ("id", "shared-captcha")]).await.errno()
        }
    }))
    .await;
    assert_eq!(answers.iter().filter(|e| *e == "0").count(), 1, "{answers:?}");
    assert!(answers.iter().all(|e| e == "0" || e == "4002"), "{answers:?}");
    let phones: HashSet<String> = mobiles.iter().map(|m| format!("+86{m}")).collect();
    let sent = ihome_tests::all_sent_sms().await.into_iter().filter(|(p, _)| phones.contains(p)).count();
    assert_eq!(sent, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn many_sms_requests_for_one_mobile_send_one_sms() {
    let t = TestApp::spawn().await;
    let mobile = unique_mobile();
    // Each request has its own valid captcha and address: only the mobile is contended (its 60 s
    // gap and its budget of 10 a day: 4201 either way).
    let mut prepared = Vec::new();
    for i in 0..N {
        let mut c = t.client();
        c.from_ip(&format!("198.51.100.{i}"));
        let id = format!("cap-{i}");
        let text = c.captcha_text(&id).await;
        prepared.push((c, id, text));
    }
    let answers = join_all(prepared.into_iter().map(|(mut c, id, text)| {
        let path = format!("/api/v1.0/smscode/{mobile}");
        async move { c.get_query(&path, &[("text", &text), ("id", &id)]).await.errno() }
    }))
    .await;
    assert_eq!(answers.iter().filter(|e| *e == "0").count(), 1, "{answers:?}");
    assert!(answers.iter().all(|e| e == "0" || e == "4201"), "{answers:?}");
    assert_eq!(sent_sms(&mobile).await.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn many_registrations_of_one_mobile_make_one_account() {
    let t = TestApp::spawn().await;
    let mobile = unique_mobile();
    let mut c = t.client();
    c.request_sms(&mobile).await;
    let code = last_sms_code(&mobile).await.unwrap();
    let answers = join_all((0..N).map(|i| {
        let mut c = t.client();
        // From as many addresses: this race is about the account, not the per-address budget.
        c.from_ip(&format!("198.51.100.{i}"));
        let body = json!({"mobile": mobile, "sms_code": code, "password": format!("password-{i:02}")});
        async move {
            let r = c.post_json("/api/v1.0/users", &body).await;
            (r.errno(), c.session_token())
        }
    }))
    .await;
    let winners: Vec<_> = answers.iter().filter(|(e, _)| e == "0").collect();
    assert_eq!(winners.len(), 1, "{:?}", answers.iter().map(|a| &a.0).collect::<Vec<_>>());
    // Losers: the code was used or the mobile taken; never a 5xx-like or half-made account.
    assert!(answers.iter().all(|(e, _)| ["0", "4002", "4003", "4004"].contains(&e.as_str())));
    let tokens: HashSet<_> = answers.iter().filter_map(|(_, t)| t.clone()).collect();
    assert_eq!(tokens.len(), 1, "only the winner is logged in");

    // Exactly one user item (the test may scan its own table; the product never scans).
    let items = t
        .dynamo
        .scan()
        .table_name(&t.table)
        .filter_expression("begins_with(pk, :p)")
        .expression_attribute_values(":p", aws_sdk_dynamodb::types::AttributeValue::S("USER#".into()))
        .send()
        .await
        .unwrap();
    assert_eq!(items.count(), 1, "one account");
    // Only the winner's password logs in.
    let winner_pw = answers.iter().position(|(e, _)| e == "0").map(|i| format!("password-{i:02}")).unwrap();
    t.client()
        .post_json("/api/v1.0/sessions", &json!({"mobile": mobile, "password": winner_pw}))
        .await
        .assert("0", "OK");
}
