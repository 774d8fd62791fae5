use ihome_tests::sample_image;
use ihome_tests::{AVATAR_BASE, Part, TestApp, unreachable_sdk_config};
use image::ImageFormat;

const AVATAR: &str = "/api/v1.0/user/avatar";

fn file<'a>(filename: &'a str, content_type: &'a str, data: &'a [u8]) -> Part<'a> {
    Part { name: "avatar", filename: Some(filename), content_type, data }
}

/// Every object key in the test's bucket.
async fn objects(t: &TestApp) -> Vec<String> {
    let out = t.s3.list_objects_v2().bucket(&t.bucket).send().await.unwrap();
    out.contents().iter().filter_map(|o| o.key().map(str::to_owned)).collect()
}

#[tokio::test]
async fn uploads_each_format_to_s3_byte_for_byte() {
    let t = TestApp::spawn().await;
    let (mut c, _, _) = t.registered_user().await;
    for (format, ct, ext) in [
        (ImageFormat::Png, "image/png", "png"),
        (ImageFormat::Jpeg, "image/jpeg", "jpg"),
        (ImageFormat::Gif, "image/gif", "gif"),
        (ImageFormat::WebP, "image/webp", "webp"),
    ] {
        let bytes = sample_image(format);
        // The declared name and type are deliberately wrong: only the bytes count.
        let r = c.post_multipart(AVATAR, &[file("photo.txt", "application/octet-stream", &bytes)]).await;
        r.assert("0", "OK");
        let url = r.data()["avatar_url"].as_str().unwrap().to_owned();
        let key = url.strip_prefix(AVATAR_BASE).expect("base URL + key");
        assert!(key.starts_with("avatars/") && key.ends_with(&format!(".{ext}")), "{key}");
        let obj = t.s3.get_object().bucket(&t.bucket).key(key).send().await.unwrap();
        assert_eq!(obj.content_type(), Some(ct));
        assert_eq!(obj.cache_control(), Some("public, max-age=31536000, immutable"));
        assert_eq!(obj.body.collect().await.unwrap().into_bytes().as_ref(), bytes.as_slice());
        let me = c.get("/api/v1.0/user").await;
        assert_eq!(me.data()["avatar"], url.as_str());
        assert_eq!(me.data()["avatar_url"], url.as_str());
        // The replaced avatar is gone: one object at a time.
        assert_eq!(objects(&t).await, vec![key.to_owned()]);
    }
}

#[tokio::test]
async fn keys_never_repeat_and_say_nothing_of_the_user() {
    let t = TestApp::spawn().await;
    let (mut a, _, _) = t.registered_user().await;
    let (mut b, _, _) = t.registered_user().await;
    let png = sample_image(ImageFormat::Png);
    let mut keys = std::collections::HashSet::new();
    for i in 0..4 {
        let c = if i % 2 == 0 { &mut a } else { &mut b };
        let r = c.post_multipart(AVATAR, &[file("a.png", "image/png", &png)]).await;
        let url = r.data()["avatar_url"].as_str().unwrap().to_owned();
        let uid = c.session_token().unwrap().split_once('.').unwrap().0.to_owned();
        assert!(!url.contains(&uid), "key carries the user id: {url}");
        assert!(keys.insert(url));
    }
}

#[tokio::test]
async fn spoofed_uploads_are_refused_and_nothing_is_stored() {
    let t = TestApp::spawn().await;
    let (mut c, _, _) = t.registered_user().await;
    let mut png_header_on_garbage = b"\x89PNG\r\n\x1a\n".to_vec();
    png_header_on_garbage.extend(std::iter::repeat_n(0x41u8, 2048));
    let five_mib = {
        let mut v = sample_image(ImageFormat::Png);
        v.resize(5 * 1024 * 1024, 0);
        v
    };
    let script = b"#!/bin/sh\necho pwned\n".to_vec();
    for (name, data, errmsg) in [
        ("script named x.png", &script, "图片格式错误，仅支持JPEG、PNG、GIF、WebP"),
        ("PNG header on garbage", &png_header_on_garbage, "图片格式错误，仅支持JPEG、PNG、GIF、WebP"),
        ("empty file", &Vec::new(), "未上传图片"),
        ("5 MiB file", &five_mib, "图片过大"),
    ] {
        let r = c.post_multipart(AVATAR, &[file("x.png", "image/png", data)]).await;
        assert_eq!((r.errno(), r.errmsg()), ("4103".into(), errmsg.into()), "{name}");
    }
    assert!(objects(&t).await.is_empty(), "nothing stored");
    assert_eq!(c.get("/api/v1.0/user").await.data()["avatar_url"], "");
}

#[tokio::test]
async fn no_file_is_paramerr_and_login_comes_first() {
    let t = TestApp::spawn().await;
    let (mut c, _, _) = t.registered_user().await;
    let png = sample_image(ImageFormat::Png);
    c.post_multipart(AVATAR, &[Part { name: "other", filename: None, content_type: "", data: b"x" }])
        .await
        .assert("4103", "未上传图片");
    let mut anon = t.client();
    anon.post_multipart(AVATAR, &[file("a.png", "image/png", &png)]).await.assert("4101", "用户未登录");
    assert!(objects(&t).await.is_empty());
}

#[tokio::test]
async fn s3_unreachable_is_thirderr_and_the_user_is_unchanged() {
    let t = TestApp::builder().s3_sdk(unreachable_sdk_config().await).build().await;
    let (mut c, _, _) = t.registered_user().await;
    let png = sample_image(ImageFormat::Png);
    c.post_multipart(AVATAR, &[file("a.png", "image/png", &png)]).await.assert("4301", "上传图片失败");
    assert_eq!(c.get("/api/v1.0/user").await.data()["avatar_url"], "");
}

#[tokio::test]
async fn store_failure_when_saving_is_dberr_and_removes_the_object() {
    let t = TestApp::spawn().await;
    let (mut c, _, _) = t.registered_user().await;
    t.calls.fail(&["UpdateItem"]);
    let png = sample_image(ImageFormat::Png);
    c.post_multipart(AVATAR, &[file("a.png", "image/png", &png)]).await.assert("4001", "保存图片信息失败");
    assert!(objects(&t).await.is_empty(), "the unsaved object was removed");
    t.calls.fail(&[]);
    assert_eq!(c.get("/api/v1.0/user").await.data()["avatar_url"], "");
}
