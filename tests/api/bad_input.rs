//! One sweep of bad input over every route of this module: each gets a PARAMERR envelope with
//! HTTP 200 (never a 5xx, a panic or an empty body), and nothing is written.

use aws_sdk_dynamodb::types::AttributeValue;
use ihome::store::keys;
use ihome_tests::sample_image;
use ihome_tests::{Part, Request, TestApp, multipart, unique_mobile};
use serde_json::json;

type Headers<'a> = &'a [(&'a str, &'a str)];

#[tokio::test]
async fn bad_bodies_on_json_routes_are_paramerr_and_write_nothing() {
    let t = TestApp::spawn().await;
    let mobile = unique_mobile();
    let mut setup = t.client();
    let code = setup.request_sms_fixture(&mobile).await;
    let good = json!({"mobile": mobile, "sms_code": code, "password": "password123"}).to_string();
    let huge = json!({"mobile": mobile, "sms_code": code, "password": "x".repeat(1 << 20)}).to_string();
    let just_over = format!("{{\"mobile\": \"{mobile}\", \"pad\": \"{}\"}}", " ".repeat(64 * 1024));

    let json_ct: Headers = &[("content-type", "application/json")];
    let cases: Vec<(&str, Vec<u8>, Headers)> = vec![
        ("empty body", vec![], json_ct),
        ("blank body", b"  \n".to_vec(), json_ct),
        ("malformed", b"{\"mobile\": ".to_vec(), json_ct),
        ("trailing garbage", format!("{good} x").into_bytes(), json_ct),
        ("array", json!([mobile, code, "password123"]).to_string().into_bytes(), json_ct),
        ("string", b"\"hello\"".to_vec(), json_ct),
        ("number", b"42".to_vec(), json_ct),
        ("null", b"null".to_vec(), json_ct),
        (
            "mobile as number",
            format!("{{\"mobile\": {mobile}, \"sms_code\": \"{code}\", \"password\": \"password123\"}}").into_bytes(),
            json_ct,
        ),
        (
            "password as array",
            json!({"mobile": mobile, "sms_code": code, "password": ["password123"]}).to_string().into_bytes(),
            json_ct,
        ),
        (
            "code as object",
            json!({"mobile": mobile, "sms_code": {"v": code}, "password": "password123"}).to_string().into_bytes(),
            json_ct,
        ),
        (
            "code as bool",
            json!({"mobile": mobile, "sms_code": true, "password": "password123"}).to_string().into_bytes(),
            json_ct,
        ),
        (
            "extra field",
            json!({"mobile": mobile, "sms_code": code, "password": "password123", "user_id": 1})
                .to_string()
                .into_bytes(),
            json_ct,
        ),
        ("1 MB body", huge.into_bytes(), json_ct),
        ("just over 64 KiB", just_over.into_bytes(), json_ct),
        ("not UTF-8", b"{\"mobile\": \"\xff\xfe\", \"password\": \"x\"}".to_vec(), json_ct),
        ("no content type", good.clone().into_bytes(), &[]),
        ("text/plain", good.clone().into_bytes(), &[("content-type", "text/plain")]),
        (
            "form",
            format!("mobile={mobile}&sms_code={code}&password=password123").into_bytes(),
            &[("content-type", "application/x-www-form-urlencoded")],
        ),
        ("multipart", good.clone().into_bytes(), &[("content-type", "multipart/form-data; boundary=x")]),
    ];

    let mut c = t.client();
    for path in ["/api/v1.0/users", "/api/v1.0/sessions", "/api/v1.0/password/reset"] {
        for (name, body, headers) in &cases {
            let r = c.send(Request { method: "POST", path, query: &[], headers, body: Some(body.clone()) }).await;
            assert_eq!(r.status, 200, "{path} {name}");
            assert_eq!(r.errno(), "4103", "{path} {name}: {}", r.text());
            assert!(!r.errmsg().is_empty());
            assert!(r.set_cookies.is_empty(), "{path} {name}");
        }
    }

    // Nothing was written: no account (nor its sessions, which live in it), no failure counter,
    // and the code is intact.
    for prefix in [keys::USER_PREFIX, keys::MOBILE_PREFIX, keys::LOGIN_FAILURES_PREFIX] {
        let found = t
            .dynamo
            .scan()
            .table_name(&t.table)
            .filter_expression("begins_with(pk, :p)")
            .expression_attribute_values(":p", AttributeValue::S(prefix.into()))
            .send()
            .await
            .unwrap();
        assert_eq!(found.count(), 0, "{prefix} items after bad input");
    }
    let sms = t
        .dynamo
        .get_item()
        .table_name(&t.table)
        .key("pk", AttributeValue::S(format!("SMS#{mobile}")))
        .send()
        .await
        .unwrap()
        .item
        .unwrap();
    assert_eq!(sms["attempts"].as_n().unwrap(), "0", "no try of the code was spent");
    // And the same data, well-formed, goes through.
    let ok = c
        .send(Request {
            method: "POST",
            path: "/api/v1.0/users",
            query: &[],
            headers: json_ct,
            body: Some(good.into_bytes()),
        })
        .await;
    ok.assert("0", "OK");
}

#[tokio::test]
async fn charset_in_content_type_is_fine() {
    let t = TestApp::spawn().await;
    let mut c = t.client();
    let r = c
        .send(Request {
            method: "POST",
            path: "/api/v1.0/sessions",
            query: &[],
            headers: &[("content-type", "application/json; charset=UTF-8")],
            body: Some(json!({"mobile": unique_mobile(), "password": "password123"}).to_string().into_bytes()),
        })
        .await;
    r.assert("4004", "用户名或密码错误");
}

#[tokio::test]
async fn odd_paths_and_queries_are_paramerr() {
    let t = TestApp::spawn().await;
    let mut c = t.client();
    for id in ["%00", "a%0Ab", "<script>", "a b", "%F0%9F%98%80", &"x".repeat(200)] {
        let r = c.get(&format!("/api/v1.0/imagecode/{id}")).await;
        assert_eq!(r.errno(), "4103", "imagecode {id}");
        let r = c.get_query(&format!("/api/v1.0/smscode/{id}"), &[("text", "ABCD"), ("id", "x")]).await;
        assert_eq!(r.errno(), "4103", "smscode {id}");
    }
    let m = unique_mobile();
    for (text, id) in [("ABCD", "bad id!"), ("ABCD", &"x".repeat(65)), ("\u{0}", "\u{0}")] {
        let r = c.get_query(&format!("/api/v1.0/smscode/{m}"), &[("text", text), ("id", id)]).await;
        assert_eq!(r.errno(), "4103", "{text:?} {id:?}: {}", r.text());
    }
    // GET routes ignore bodies they do not expect.
    let r = c
        .send(Request {
            method: "GET",
            path: "/api/v1.0/session",
            query: &[],
            headers: &[("content-type", "application/json")],
            body: Some(b"\xff\xff".to_vec()),
        })
        .await;
    r.assert("4101", "用户未登录");
    // No such route is an ordinary 404, as API Gateway answers.
    assert_eq!(c.get("/api/v1.0/nope").await.status, 404);
    assert_eq!(
        c.send(Request { method: "PATCH", path: "/api/v1.0/user", query: &[], headers: &[], body: None }).await.status,
        404
    );
}

#[tokio::test]
async fn bad_bodies_on_profile_routes_are_paramerr_and_write_nothing() {
    let t = TestApp::spawn().await;
    let (mut c, mobile, _) = t.registered_user().await;
    let json_ct: Headers = &[("content-type", "application/json")];
    let json_routes = [
        ("/api/v1.0/user/name", "PUT"),
        ("/api/v1.0/user/auth", "POST"),
        ("/api/v1.0/user/password", "PUT"),
        ("/api/v1.0/user", "DELETE"),
    ];
    for (path, method) in json_routes {
        for (name, body, headers) in [
            ("empty", vec![], json_ct),
            ("malformed", b"{".to_vec(), json_ct),
            ("array", b"[\"x\", \"y\"]".to_vec(), json_ct),
            ("wrong types", br#"{"name": ["x"], "real_name": 1, "id_card": true}"#.to_vec(), json_ct),
            ("extra field", br#"{"name": "x", "real_name": "x", "id_card": "x", "user_id": 2}"#.to_vec(), json_ct),
            ("not UTF-8", b"{\"name\": \"\xff\"}".to_vec(), json_ct),
            ("1 MB", format!("{{\"name\": \"{}\"}}", "x".repeat(1 << 20)).into_bytes(), json_ct),
            ("text/plain", br#"{"name": "x"}"#.to_vec(), &[("content-type", "text/plain")]),
        ] {
            let r = c.send(Request { method, path, query: &[], headers, body: Some(body) }).await;
            assert_eq!(r.errno(), "4103", "{path} {name}: {}", r.text());
        }
    }

    let png = sample_image(image::ImageFormat::Png);
    let (ct, good) =
        multipart(&[Part { name: "avatar", filename: Some("a.png"), content_type: "image/png", data: &png }]);
    let (_, two) = multipart(&[
        Part { name: "avatar", filename: Some("a.png"), content_type: "image/png", data: &png },
        Part { name: "avatar", filename: Some("b.png"), content_type: "image/png", data: &png },
    ]);
    let truncated = good[..good.len() / 2].to_vec();
    let no_closing = good[..good.len() - 40].to_vec();
    let cases: Vec<(&str, Vec<u8>, String, &str)> = vec![
        ("no boundary", good.clone(), "multipart/form-data".into(), "请求格式错误，应为 multipart/form-data"),
        ("not multipart", png.clone(), "image/png".into(), "请求格式错误，应为 multipart/form-data"),
        (
            "json instead",
            br#"{"avatar": "x"}"#.to_vec(),
            "application/json".into(),
            "请求格式错误，应为 multipart/form-data",
        ),
        ("no content type", good.clone(), String::new(), "请求格式错误，应为 multipart/form-data"),
        ("truncated part", truncated, ct.clone(), "上传数据格式错误"),
        ("no closing boundary", no_closing, ct.clone(), "上传数据格式错误"),
        ("wrong boundary", good.clone(), "multipart/form-data; boundary=other".into(), "上传数据格式错误"),
        ("empty body", vec![], ct.clone(), "上传数据格式错误"),
        ("two avatar parts", two, ct.clone(), "只能上传一张图片"),
    ];
    for (name, body, content_type, errmsg) in &cases {
        let headers: Vec<(&str, &str)> =
            if content_type.is_empty() { vec![] } else { vec![("content-type", content_type.as_str())] };
        let r = c
            .send(Request {
                method: "POST",
                path: "/api/v1.0/user/avatar",
                query: &[],
                headers: &headers,
                body: Some(body.clone()),
            })
            .await;
        assert_eq!((r.errno(), r.errmsg()), ("4103".to_owned(), errmsg.to_string()), "{name}: {}", r.text());
    }

    let objects = t.s3.list_objects_v2().bucket(&t.bucket).send().await.unwrap();
    assert_eq!(objects.key_count(), Some(0), "nothing uploaded");
    let me = c.get("/api/v1.0/user").await.data();
    assert_eq!((me["name"].as_str(), me["avatar_url"].as_str()), (Some(mobile.as_str()), Some("")));
    assert_eq!(c.get("/api/v1.0/user/auth").await.data()["real_name"], serde_json::Value::Null);
    let names = t
        .dynamo
        .scan()
        .table_name(&t.table)
        .filter_expression("begins_with(pk, :p)")
        .expression_attribute_values(":p", AttributeValue::S(keys::NAME_PREFIX.into()))
        .send()
        .await
        .unwrap();
    assert_eq!(names.count(), 0, "no name claimed");
}
