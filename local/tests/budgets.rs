//! The abuse budgets on the embedded adapter, through the local server over real TCP: the client
//! address is the socket peer (127.0.0.1, or 127.0.0.2 for a second client), never a header.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use ihome::App;
use ihome::cache::Counters;
use ihome::clock::Clock;
use ihome::config::{Config, Limits};
use ihome::limits::Quota;
use ihome_local::server::{self, ServerConfig, State};
use ihome_local::{AvatarDir, ConsoleSms, EmbeddedStore};
use serde_json::{Value, json};
use tokio::sync::oneshot;

struct Running {
    base: String,
    dir: PathBuf,
    stop: Option<oneshot::Sender<()>>,
    clock: Arc<TestClock>,
}

/// A clock the test moves: windows pass without waiting for them.
struct TestClock(AtomicI64);

impl Clock for TestClock {
    fn now(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }
}

impl Running {
    fn advance(&self, secs: i64) {
        self.clock.0.fetch_add(secs, Ordering::SeqCst);
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

async fn start(name: &str, limits: impl FnOnce(&mut Limits)) -> Running {
    let dir = std::env::temp_dir().join(format!("ihome-local-budgets-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("avatars")).expect("temp dir");
    let store =
        EmbeddedStore::open(&dir.join("ihome.redb")).expect("store").with_captcha_echo(dir.join("captcha.jsonl"));
    let mut config = Config { bcrypt_cost: 4, cookie_secure: false, ..Config::default() };
    limits(&mut config.limits);
    let clock = Arc::new(TestClock(AtomicI64::new(1_790_000_000)));
    let app = App::with_clock(
        config,
        store.clone(),
        ConsoleSms::new(dir.join("sms.jsonl")),
        AvatarDir::new(dir.join("avatars")),
        clock.clone(),
    )
    .with_limiter(Counters::store_only(store));
    let state = Arc::new(State { app, avatars: None, static_dir: None });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr: SocketAddr = listener.local_addr().expect("addr");
    let (stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(server::serve_until(listener, state, ServerConfig::default(), async {
        let _ = stopped.await;
    }));
    Running { base: format!("http://{addr}/api/v1.0"), dir, stop: Some(stop), clock }
}

/// A client whose connections come from `from` (any 127.x address reaches the server).
fn client_from(from: [u8; 4]) -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .local_address(IpAddr::V4(Ipv4Addr::from(from)))
        .build()
        .expect("client")
}

async fn errno(resp: reqwest::Response) -> String {
    let v: Value = resp.json().await.expect("json");
    v["errno"].as_str().unwrap_or_default().to_owned()
}

fn lines(path: PathBuf) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).expect("json line"))
        .collect()
}

/// A captcha drawn and its answer read from the echo file (an attacker with perfect OCR).
async fn solved_captcha(s: &Running, c: &reqwest::Client, id: &str) -> Option<String> {
    let resp = c.get(format!("{}/imagecode/{id}", s.base)).send().await.expect("captcha");
    if resp.headers()["content-type"] != "image/png" {
        return None;
    }
    lines(s.dir.join("captcha.jsonl"))
        .into_iter()
        .find(|l| l["id"] == id)
        .and_then(|l| l["text"].as_str().map(str::to_owned))
}

async fn ask_sms(s: &Running, c: &reqwest::Client, id: &str, mobile: &str) -> String {
    let text = solved_captcha(s, c, id).await.expect("a captcha");
    errno(c.get(format!("{}/smscode/{mobile}?text={text}&id={id}", s.base)).send().await.expect("sms")).await
}

#[tokio::test]
async fn sms_per_address_and_captchas_per_address() {
    let s = start("sms", |l| l.sms_per_ip = Quota::new(2, 3600)).await;
    let c = client_from([127, 0, 0, 1]);
    assert_eq!(ask_sms(&s, &c, "a1", "13900000001").await, "0");
    assert_eq!(ask_sms(&s, &c, "a2", "13900000002").await, "0");
    assert_eq!(ask_sms(&s, &c, "a3", "13900000003").await, "4202");
    assert_eq!(lines(s.dir.join("sms.jsonl")).len(), 2, "the refused request sent nothing");
    // Another address has its own budget.
    let other = client_from([127, 0, 0, 2]);
    assert_eq!(ask_sms(&s, &other, "b1", "13900000003").await, "0");

    let s = start("captcha", |l| l.captcha_per_ip = Quota::new(2, 60)).await;
    assert!(solved_captcha(&s, &c, "c1").await.is_some());
    assert!(solved_captcha(&s, &c, "c2").await.is_some());
    let refused = c.get(format!("{}/imagecode/c3", s.base)).send().await.expect("captcha");
    assert_eq!(errno(refused).await, "4202");
    assert!(lines(s.dir.join("captcha.jsonl")).iter().all(|l| l["id"] != "c3"), "nothing drawn");
}

#[tokio::test]
async fn registrations_per_address_and_logins_per_mobile_and_address() {
    let s = start("register", |l| l.register_per_ip = Quota::new(2, 3600)).await;
    let c = client_from([127, 0, 0, 1]);
    let body = json!({"mobile": "13900000009", "sms_code": "123456", "password": "password123"});
    for expected in ["4002", "4002", "4202"] {
        assert_eq!(
            errno(c.post(format!("{}/users", s.base)).json(&body).send().await.expect("register")).await,
            expected
        );
    }

    // An account, then five failures from one address: that address is locked, the owner's is not.
    let s = start("login", |_| {}).await;
    let owner = client_from([127, 0, 0, 2]);
    let mobile = "13900000010";
    assert_eq!(ask_sms(&s, &owner, "r1", mobile).await, "0");
    let message = lines(s.dir.join("sms.jsonl"))[0]["message"].as_str().unwrap().to_owned();
    // The code is the message's run of six digits.
    let code = message.split(|c: char| !c.is_ascii_digit()).find(|run| run.len() == 6).expect("a code").to_owned();
    let register = json!({"mobile": mobile, "sms_code": code, "password": "password123"});
    assert_eq!(
        errno(owner.post(format!("{}/users", s.base)).json(&register).send().await.expect("register")).await,
        "0"
    );
    let attacker = client_from([127, 0, 0, 3]);
    let wrong = json!({"mobile": mobile, "password": "wrong-password"});
    for _ in 0..5 {
        assert_eq!(
            errno(attacker.post(format!("{}/sessions", s.base)).json(&wrong).send().await.expect("login")).await,
            "4004"
        );
    }
    let right = json!({"mobile": mobile, "password": "password123"});
    assert_eq!(
        errno(attacker.post(format!("{}/sessions", s.base)).json(&right).send().await.expect("login")).await,
        "4201"
    );
    assert_eq!(errno(owner.post(format!("{}/sessions", s.base)).json(&right).send().await.expect("login")).await, "0");
}

#[tokio::test]
async fn sms_per_mobile_per_day_and_for_the_whole_stack() {
    let s = start("sms-mobile", |l| l.sms_per_mobile = Quota::new(2, 86_400)).await;
    let c = client_from([127, 0, 0, 1]);
    for (i, expected) in ["0", "0", "4201"].into_iter().enumerate() {
        assert_eq!(ask_sms(&s, &c, &format!("m{i}"), "13900000020").await, expected);
        s.advance(61);
    }
    assert_eq!(lines(s.dir.join("sms.jsonl")).len(), 2);

    let s = start("sms-total", |l| l.sms_total = Quota::new(2, 3600)).await;
    for (i, expected) in ["0", "0", "4301"].into_iter().enumerate() {
        let c = client_from([127, 0, 1, i as u8 + 1]);
        assert_eq!(ask_sms(&s, &c, &format!("t{i}"), &format!("1390000003{i}")).await, expected);
    }
    assert_eq!(lines(s.dir.join("sms.jsonl")).len(), 2);
}

#[tokio::test]
async fn logins_per_mobile_from_all_addresses() {
    let s = start("login-mobile", |l| l.login_per_mobile = Quota::new(3, 3600)).await;
    let wrong = json!({"mobile": "13900000040", "password": "wrong-password"});
    for i in 1..=3 {
        let c = client_from([127, 0, 2, i]);
        assert_eq!(
            errno(c.post(format!("{}/sessions", s.base)).json(&wrong).send().await.expect("login")).await,
            "4004"
        );
    }
    let c = client_from([127, 0, 2, 9]);
    assert_eq!(errno(c.post(format!("{}/sessions", s.base)).json(&wrong).send().await.expect("login")).await, "4201");
}
