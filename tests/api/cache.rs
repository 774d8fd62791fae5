//! The cache tier through the routes: budgets counted in Redis (the test command's redis-server)
//! instead of the table; when the cache is down or slow, login, captchas and registration count
//! in the table and SMS sending refuses (THIRDERR), never unmetered; the cache is used again once
//! it is back. The ElastiCache look-up runs against moto's ElastiCache API.

use ihome::cache::{CacheEndpoint, DOWN_FOR, RedisCounters};
use ihome::config::Limits;
use ihome::domain::{ClientIp, Mobile};
use ihome::limits::{Budget, Counter, Limiter, Quota, Subject};
use ihome_tests::cache_proxy::{CacheProxy, Mode};
use ihome_tests::{TestApp, sdk_config, sent_sms, unique, unique_mobile};
use serde_json::json;

use crate::adapters::redis_endpoint;

const SMS: &str = "/api/v1.0/smscode";
const SESSIONS: &str = "/api/v1.0/sessions";
/// The test client's address (`ihome_tests::Client`'s default).
const CLIENT_IP: &str = "203.0.113.7";

async fn ask_sms(c: &mut ihome_tests::Client, mobile: &str) -> ihome_tests::Response {
    let id = unique("img");
    let text = c.captcha_text(&id).await;
    c.get_query(&format!("{SMS}/{mobile}"), &[("text", &text), ("id", &id)]).await
}

fn counter(budget: Budget, subject: Subject, limits: &Limits) -> Counter {
    Counter::new(budget, subject, limits)
}

fn captchas_of_client(limits: &Limits) -> Counter {
    counter(Budget::CaptchaPerIp, Subject::Ip(ClientIp::parse(CLIENT_IP)), limits)
}

fn logins_of(mobile: &str, limits: &Limits) -> Counter {
    counter(Budget::LoginPerMobile, Subject::Mobile(Mobile::parse(mobile).expect("mobile")), limits)
}

#[tokio::test]
async fn with_the_tier_on_budgets_count_in_redis_and_not_in_the_table() {
    let t = TestApp::builder()
        .config(|c| c.limits.captcha_per_ip = Quota::new(2, 60))
        .cache(redis_endpoint())
        .build()
        .await;
    let mut c = t.client();
    c.captcha_text(&unique("img")).await;
    c.captcha_text(&unique("img")).await;
    let r = c.get(&format!("/api/v1.0/imagecode/{}", unique("img"))).await;
    r.assert("4202", "请求过于频繁，请稍后重试");
    let limits = t.app.config.limits;
    let captchas = captchas_of_client(&limits);
    assert_eq!(t.app.limiter.used(&captchas, t.app.now()).await.unwrap(), 2, "counted in Redis");
    assert_eq!(t.store().used(&captchas, t.app.now()).await.unwrap(), 0, "nothing counted in the table");
    // An SMS takes its three counters in Redis too, in one script.
    let mobile = unique_mobile();
    c.from_ip("198.51.100.31");
    ask_sms(&mut c, &mobile).await.assert("0", "发送成功");
    let sms_of_mobile = counter(Budget::SmsPerMobile, Subject::Mobile(Mobile::parse(&mobile).unwrap()), &limits);
    assert_eq!(t.app.limiter.used(&sms_of_mobile, t.app.now()).await.unwrap(), 1);
    assert_eq!(t.store().used(&sms_of_mobile, t.app.now()).await.unwrap(), 0);
}

/// Registers through the cache while it is up, then takes it `mode` (down or slow): login and
/// captchas still answer, counted in the table; an SMS is refused with THIRDERR and not sent.
async fn when_the_cache_is(mode: Mode) {
    let proxy = CacheProxy::start(&redis_endpoint()).await;
    let t = TestApp::builder().cache(proxy.endpoint.clone()).build().await;
    let (_, mobile, password) = t.registered_user().await;
    let limits = t.app.config.limits;
    proxy.set(mode);

    let mut c = t.client();
    c.post_json(SESSIONS, &json!({"mobile": mobile, "password": "wrong password 1"}))
        .await
        .assert("4004", "用户名或密码错误");
    c.post_json(SESSIONS, &json!({"mobile": mobile, "password": password})).await.assert("0", "OK");
    assert_eq!(t.store().used(&logins_of(&mobile, &limits), t.app.now()).await.unwrap(), 2, "counted in the table");

    c.captcha_text(&unique("img")).await;
    assert!(t.store().used(&captchas_of_client(&limits), t.app.now()).await.unwrap() >= 1);

    let other = unique_mobile();
    ask_sms(&mut c, &other).await.assert("4301", "短信服务繁忙，请稍后重试");
    assert!(sent_sms(&other).await.is_empty(), "an SMS went out unmetered");
    let total = counter(Budget::SmsTotal, Subject::Everyone, &limits);
    assert_eq!(t.store().used(&total, t.app.now()).await.unwrap(), 0, "SMS never counted in the table instead");
}

#[tokio::test]
async fn when_the_cache_is_down_login_counts_in_the_table_and_sms_fails_closed() {
    when_the_cache_is(Mode::Down).await;
}

#[tokio::test]
async fn when_the_cache_is_slow_login_counts_in_the_table_and_sms_fails_closed() {
    when_the_cache_is(Mode::Slow).await;
}

#[tokio::test]
async fn the_cache_is_used_again_once_it_is_back() {
    let proxy = CacheProxy::start(&redis_endpoint()).await;
    let t = TestApp::builder().cache(proxy.endpoint.clone()).build().await;
    let mut c = t.client();
    proxy.set(Mode::Down);
    ask_sms(&mut c, &unique_mobile()).await.assert("4301", "短信服务繁忙，请稍后重试");
    proxy.set(Mode::Up);
    // The cache is left alone for DOWN_FOR after a failure, then tried again (and reconnected).
    tokio::time::sleep(DOWN_FOR + std::time::Duration::from_millis(200)).await;
    let mobile = unique_mobile();
    ask_sms(&mut c, &mobile).await.assert("0", "发送成功");
    assert_eq!(sent_sms(&mobile).await.len(), 1);
}

#[tokio::test]
async fn elasticache_look_up_finds_a_replication_group() {
    let sdk = sdk_config().await;
    let client = ihome::cache::lookup::client(&sdk);
    let name = format!("ihome-{}", rand::random::<u32>());
    let created = client
        .create_replication_group()
        .replication_group_id(&name)
        .replication_group_description("ihome abuse counters")
        .engine("redis")
        .cache_node_type("cache.t4g.micro")
        .transit_encryption_enabled(true)
        .send()
        .await
        .expect("create replication group in moto");
    let group = created.replication_group().expect("group");
    let primary = group.node_groups().first().and_then(|g| g.primary_endpoint()).expect("moto's primary endpoint");

    let found = ihome::cache::lookup::find(&client, &name).await.expect("found");
    assert_eq!(Some(found.host.as_str()), primary.address());
    assert_eq!(i32::from(found.port), primary.port().unwrap_or(6379));
    assert!(found.tls, "the group has transit encryption: TLS");

    // moto's address resolves nowhere: the endpoint it returned, pointed at the local server.
    let local = redis_endpoint();
    let overridden = CacheEndpoint { host: local.host, port: local.port, tls: false, ..found };
    let counters = RedisCounters::new(overridden, &unique("lookup"));
    let c = [counter(Budget::RegisterPerIp, Subject::Ip(ClientIp::parse("192.0.2.5")), &Limits::default())];
    assert_eq!(counters.take(&c, ihome_tests::T0).await.unwrap(), None);
    assert_eq!(counters.used(&c[0], ihome_tests::T0).await.unwrap(), 1);

    let missing = ihome::cache::lookup::find(&client, "ihome-no-such-cache").await.unwrap_err();
    assert!(missing.contains("DescribeReplicationGroups"), "{missing}");
}

/// A cache that never answers fails a take within the bound, and with an error, not a hang.
#[tokio::test]
async fn a_cache_that_never_answers_is_an_error_not_a_hang() {
    let proxy = CacheProxy::start(&redis_endpoint()).await;
    proxy.set(Mode::Slow);
    let counters = RedisCounters::new(proxy.endpoint.clone(), &unique("slow"));
    let c = [counter(Budget::SmsTotal, Subject::Everyone, &Limits::default())];
    let answer = tokio::time::timeout(std::time::Duration::from_secs(10), counters.take(&c, ihome_tests::T0)).await;
    assert!(matches!(answer, Ok(Err(_))), "{answer:?}");
}

/// A redis-server of its own serving TLS only, with a certificate from a CA this test makes.
struct TlsRedis {
    child: tokio::process::Child,
    port: u16,
    dir: std::path::PathBuf,
}

impl TlsRedis {
    async fn start(cert: &str, key: &str, ca: &str) -> TlsRedis {
        let dir = std::env::temp_dir().join(unique("redis-tls"));
        std::fs::create_dir_all(&dir).expect("temp dir");
        for (name, pem) in [("server.pem", cert), ("server.key", key), ("ca.pem", ca)] {
            std::fs::write(dir.join(name), pem).expect("write pem");
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port();
        let child = tokio::process::Command::new("redis-server")
            .args(["--port", "0", "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .args(["--tls-port", &port.to_string(), "--tls-auth-clients", "no"])
            .arg("--tls-cert-file")
            .arg(dir.join("server.pem"))
            .arg("--tls-key-file")
            .arg(dir.join("server.key"))
            .arg("--tls-ca-cert-file")
            .arg(dir.join("ca.pem"))
            .stdout(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("redis-server (Debian's package, installed by the test command)");
        for _ in 0..100 {
            if tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        TlsRedis { child, port, dir }
    }
}

impl Drop for TlsRedis {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// ElastiCache serves TLS: the counters speak it, verify the server's certificate against the
/// roots they trust (Amazon's; here also the test's CA) and refuse one they do not trust.
#[tokio::test]
async fn counters_speak_tls_and_verify_the_server() {
    let (ca, cert, key) = ihome_tests::tls::certificates();
    let server = TlsRedis::start(&cert, &key, &ca).await;
    let endpoint = CacheEndpoint::parse(&format!("127.0.0.1:{}", server.port)).expect("host:port means TLS");
    assert!(endpoint.tls);
    let c = [counter(Budget::CaptchaPerIp, Subject::Ip(ClientIp::parse("192.0.2.6")), &Limits::default())];

    let trusted = RedisCounters::new(endpoint.clone(), &unique("tls")).trusting(ca.as_bytes()).expect("CA");
    assert_eq!(trusted.take(&c, ihome_tests::T0).await.unwrap(), None);
    assert_eq!(trusted.used(&c[0], ihome_tests::T0).await.unwrap(), 1);

    // Amazon's roots alone do not vouch for this server: no counting over an unverified channel.
    let untrusted = RedisCounters::new(endpoint, &unique("tls"));
    let refused = untrusted.take(&c, ihome_tests::T0).await.unwrap_err().to_string();
    assert!(refused.contains("UnknownIssuer") || refused.contains("certificate"), "{refused}");
}
