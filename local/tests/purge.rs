//! The embedded store forgets what has expired: captchas, SMS codes (registration and reset) and
//! login-failure counts expired by the app's clock are deleted by a purge pass (DynamoDB's TTL
//! does this in AWS), while live items and accounts stay. Sessions live in their user's item;
//! expired ones leave it when its index fills (`add_session`).

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant};

use ihome::clock::Clock;
use ihome::domain::{ImageCodeId, ImageCodeText, Mobile, PasswordHash, SessionToken, SmsCode, SmsPurpose, UserId};
use ihome::store::keys::{
    IMAGE_CODE_PREFIX, LOGIN_FAILURES_PREFIX, MOBILE_PREFIX, SMS_CODE_PREFIX, SMS_RESET_PREFIX, USER_PREFIX,
};
use ihome::store::{NewSession, NewUser, Store};
use ihome_local::EmbeddedStore;
use ihome_local::purge::{self, PurgeConfig};

const T0: i64 = 1_700_000_000;

/// A clock that only moves when the test says so.
struct ManualClock(AtomicI64);

impl ManualClock {
    fn set(&self, t: i64) {
        self.0.store(t, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("ihome-local-purge-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

fn session(user: u64, expires_at: i64) -> NewSession {
    let user_id = UserId::new(user).expect("user id");
    NewSession { token_hash: SessionToken::generate(user_id).hash(), user_id, expires_at }
}

fn captcha(id: &str) -> ImageCodeId {
    ImageCodeId::parse(id).expect("captcha id")
}

fn mobile(n: u32) -> Mobile {
    Mobile::parse(&format!("1381234{n:04}")).expect("mobile")
}

/// Items of every expiring kind, 12 expired by `T0 + 700` (one exactly then) and 3 still live,
/// plus one account (mobile, user and its session).
async fn fill(store: &EmbeddedStore) {
    for i in 0..5 {
        store.put_image_code(&captcha(&format!("old-{i}")), &ImageCodeText::generate(), T0 + 300).await.unwrap();
    }
    store.put_image_code(&captcha("edge"), &ImageCodeText::generate(), T0 + 700).await.unwrap();
    for i in 0..2 {
        store.put_image_code(&captcha(&format!("new-{i}")), &ImageCodeText::generate(), T0 + 900).await.unwrap();
    }
    // SMS codes sent at T0 expire at T0 + 300; one sent at T0 + 600 lives until T0 + 900.
    for i in 0..3 {
        assert!(store.reserve_sms(&mobile(i), SmsPurpose::Register, &SmsCode::generate(), T0, 300, 60).await.unwrap());
    }
    assert!(
        store.reserve_sms(&mobile(10), SmsPurpose::Register, &SmsCode::generate(), T0 + 600, 300, 60).await.unwrap()
    );
    // A password reset code, kept apart from registration codes.
    assert!(store.reserve_sms(&mobile(40), SmsPurpose::Reset, &SmsCode::generate(), T0, 300, 60).await.unwrap());
    // Login failures counted from T0 in a 600 s window expire at T0 + 600.
    for i in 0..2 {
        assert!(store.reserve_login_attempt(&mobile(20 + i), None, T0, 600, 5).await.unwrap());
    }
    // An account: its mobile and user items never expire; its session lives a day.
    let code = SmsCode::generate();
    assert!(store.reserve_sms(&mobile(30), SmsPurpose::Register, &code, T0, 300, 60).await.unwrap());
    let user = NewUser {
        id: UserId::new(3000).unwrap(),
        mobile: mobile(30),
        password_hash: PasswordHash::from_stored("$2b$04$stored".into()),
        create_time: T0,
    };
    store.create_user(&user, &code, &session(3000, T0 + 86_400)).await.unwrap();
}

/// Items per kind, in the order of `KINDS`.
const KINDS: [&str; 6] =
    [IMAGE_CODE_PREFIX, SMS_CODE_PREFIX, SMS_RESET_PREFIX, LOGIN_FAILURES_PREFIX, MOBILE_PREFIX, USER_PREFIX];

async fn counts(store: &EmbeddedStore) -> Vec<usize> {
    let mut out = Vec::new();
    for kind in KINDS {
        out.push(store.count(kind).await.unwrap());
    }
    out
}

#[tokio::test]
async fn a_pass_deletes_what_expired_and_keeps_the_rest() {
    let dir = temp_dir("pass");
    let store = EmbeddedStore::open(&dir.join("ihome.redb")).unwrap();
    let clock = ManualClock(AtomicI64::new(T0));
    fill(&store).await;
    assert_eq!(counts(&store).await, [8, 4, 1, 2, 1, 1]);

    // Nothing has expired yet.
    assert_eq!(purge::pass(&store, &clock, 2).await.unwrap(), 0);
    assert_eq!(counts(&store).await, [8, 4, 1, 2, 1, 1]);

    // Batches of 2: the 12 expired items take several write transactions.
    clock.set(T0 + 700);
    assert_eq!(purge::pass(&store, &clock, 2).await.unwrap(), 12);
    assert_eq!(counts(&store).await, [2, 1, 0, 0, 1, 1]);
    assert_eq!(purge::pass(&store, &clock, 2).await.unwrap(), 0);

    // What is left is what reads still see.
    let now = clock.now();
    assert!(store.take_image_code(&captcha("new-0"), now).await.unwrap().is_some());
    assert!(store.check_out_sms(&mobile(10), SmsPurpose::Register, now, 5).await.unwrap().is_some());
    assert!(store.mobile_registered(&mobile(30)).await.unwrap());

    // Past every expiry, only the account's own items remain.
    clock.set(T0 + 86_400);
    assert_eq!(purge::pass(&store, &clock, 100).await.unwrap(), 2);
    assert_eq!(counts(&store).await, [0, 0, 0, 0, 1, 1]);
    drop(store);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn the_background_task_purges_on_its_interval() {
    let dir = temp_dir("task");
    let store = EmbeddedStore::open(&dir.join("ihome.redb")).unwrap();
    let clock = Arc::new(ManualClock(AtomicI64::new(T0)));
    fill(&store).await;
    let task =
        purge::spawn(store.clone(), clock.clone(), PurgeConfig { interval: Duration::from_millis(20), batch: 3 });

    // The task runs on its own; the test only moves the clock and watches the counts.
    clock.set(T0 + 700);
    let started = Instant::now();
    while counts(&store).await != [2, 1, 0, 0, 1, 1] {
        assert!(started.elapsed() < Duration::from_secs(10), "not purged: {:?}", counts(&store).await);
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    task.abort();
    drop(store);
    let _ = std::fs::remove_dir_all(&dir);
}
