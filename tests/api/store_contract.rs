//! The store's contract, run against both adapters: the embedded store (redb, `ihome-local`)
//! and DynamoDB on moto's server (made linearizable by the test command, as DynamoDB is). Same
//! operations, same guarantees, races and expiry included.

use std::sync::Arc;

use futures_util::future::join_all;
use ihome::domain::{
    ClientIp, IdCard, ImageCodeId, ImageCodeText, Mobile, PasswordHash, RealName, SessionToken, SmsCode, User, UserId,
    UserName,
};
use ihome::store::{CreateUserError, NewSession, NewUser, RenameError, Store};
use ihome_tests::{T0, unique, unique_mobile};

use crate::adapters::{dynamo, embedded};

const N: usize = 24;

/// The client address login attempts are counted for.
const FROM: Option<ClientIp> = None;

fn mobile() -> Mobile {
    Mobile::parse(&unique_mobile()).expect("mobile")
}

/// Registers a user directly through the store (code reserved, then consumed).
async fn new_user<S: Store>(store: &S) -> (User, SessionToken) {
    let m = mobile();
    let code = SmsCode::generate();
    assert!(store.reserve_sms(&m, &code, T0, 300, 60).await.unwrap());
    let id = UserId::random();
    let token = SessionToken::generate(id);
    let user = NewUser {
        id,
        mobile: m.clone(),
        password_hash: PasswordHash::from_stored("$2b$04$hash".into()),
        create_time: T0,
    };
    store.create_user(&user, &code, &NewSession::for_token(&token, T0 + 86_400)).await.unwrap();
    let u = store.authenticate(&token, T0).await.unwrap().unwrap().user.unwrap();
    (u, token)
}

async fn image_codes_are_one_time_and_expire<S: Store + 'static>(store: S) {
    let id = ImageCodeId::parse(&unique("img")).unwrap();
    let text = ImageCodeText::generate();
    store.put_image_code(&id, &text, T0 + 300).await.unwrap();
    assert_eq!(store.take_image_code(&id, T0).await.unwrap(), Some(text.clone()));
    assert_eq!(store.take_image_code(&id, T0).await.unwrap(), None, "one time");
    store.put_image_code(&id, &text, T0 + 300).await.unwrap();
    assert_eq!(store.take_image_code(&id, T0 + 300).await.unwrap(), None, "expired");
}

async fn racing_takes_of_one_image_code_have_one_winner<S: Store + 'static>(store: S) {
    let store = Arc::new(store);
    let id = ImageCodeId::parse(&unique("img")).unwrap();
    store.put_image_code(&id, &ImageCodeText::generate(), T0 + 300).await.unwrap();
    let got = join_all((0..N).map(|_| {
        let (s, id) = (store.clone(), id.clone());
        async move { s.take_image_code(&id, T0).await.unwrap() }
    }))
    .await;
    assert_eq!(got.iter().filter(|g| g.is_some()).count(), 1);
}

async fn sms_codes_throttle_count_tries_and_expire<S: Store + 'static>(store: S) {
    let m = mobile();
    let code = SmsCode::generate();
    assert!(store.reserve_sms(&m, &code, T0, 300, 60).await.unwrap());
    assert!(!store.reserve_sms(&m, &SmsCode::generate(), T0 + 59, 300, 60).await.unwrap(), "60 s rule");
    for _ in 0..5 {
        assert_eq!(store.check_out_sms(&m, T0 + 1, 5).await.unwrap(), Some(code.clone()));
    }
    assert_eq!(store.check_out_sms(&m, T0 + 1, 5).await.unwrap(), None, "tries used up");
    let fresh = SmsCode::generate();
    assert!(store.reserve_sms(&m, &fresh, T0 + 60, 300, 60).await.unwrap(), "a new code after 60 s");
    assert_eq!(store.check_out_sms(&m, T0 + 359, 5).await.unwrap(), Some(fresh.clone()));
    assert_eq!(store.check_out_sms(&m, T0 + 360, 5).await.unwrap(), None, "expired");
    store.release_sms(&m, &SmsCode::generate()).await.unwrap();
    assert!(!store.reserve_sms(&m, &SmsCode::generate(), T0 + 100, 300, 60).await.unwrap(), "other code kept");
    store.release_sms(&m, &fresh).await.unwrap();
    assert!(store.reserve_sms(&m, &SmsCode::generate(), T0 + 100, 300, 60).await.unwrap(), "released");
}

async fn racing_sms_reservations_have_one_winner<S: Store + 'static>(store: S) {
    let store = Arc::new(store);
    let m = mobile();
    let won = join_all((0..N).map(|_| {
        let (s, m) = (store.clone(), m.clone());
        async move { s.reserve_sms(&m, &SmsCode::generate(), T0, 300, 60).await.unwrap() }
    }))
    .await;
    assert_eq!(won.iter().filter(|w| **w).count(), 1);
}

async fn one_account_per_mobile_even_when_racing<S: Store + 'static>(store: S) {
    let store = Arc::new(store);
    let m = mobile();
    let code = SmsCode::generate();
    assert!(store.reserve_sms(&m, &code, T0, 300, 60).await.unwrap());
    let outcomes = join_all((0..N).map(|_| {
        let (s, m, code) = (store.clone(), m.clone(), code.clone());
        async move {
            let id = UserId::random();
            let token = SessionToken::generate(id);
            let user =
                NewUser { id, mobile: m, password_hash: PasswordHash::from_stored("$2b$04$x".into()), create_time: T0 };
            s.create_user(&user, &code, &NewSession::for_token(&token, T0 + 60)).await
        }
    }))
    .await;
    assert_eq!(outcomes.iter().filter(|o| o.is_ok()).count(), 1);
    assert!(
        outcomes.iter().all(|o| matches!(o, Ok(()) | Err(CreateUserError::MobileTaken | CreateUserError::CodeGone)))
    );
    assert!(store.mobile_registered(&m).await.unwrap());
    assert!(store.credentials(&m).await.unwrap().is_some());
}

async fn sessions_expire_and_end_once<S: Store + 'static>(store: S) {
    let (user, token) = new_user(&store).await;
    assert_eq!(store.authenticate(&token, T0 + 86_399).await.unwrap().unwrap().user_id, user.id);
    assert!(store.authenticate(&token, T0 + 86_400).await.unwrap().is_none(), "expired");
    let other = SessionToken::generate(user.id);
    assert!(store.authenticate(&other, T0).await.unwrap().is_none(), "unknown secret");
    let t2 = SessionToken::generate(user.id);
    store.put_session(&NewSession::for_token(&t2, T0 + 100)).await.unwrap();
    assert!(store.end_session(&t2, T0).await.unwrap());
    assert!(!store.end_session(&t2, T0).await.unwrap(), "ends once");
    assert!(store.authenticate(&t2, T0).await.unwrap().is_none());
}

async fn login_attempts_are_limited_per_window<S: Store + 'static>(store: S) {
    let m = mobile();
    for i in 0..5 {
        assert!(store.reserve_login_attempt(&m, FROM, T0 + i, 600, 5).await.unwrap(), "attempt {i}");
    }
    assert!(!store.reserve_login_attempt(&m, FROM, T0 + 10, 600, 5).await.unwrap(), "locked");
    assert!(!store.reserve_login_attempt(&m, FROM, T0 + 599, 600, 5).await.unwrap(), "still locked");
    assert!(store.reserve_login_attempt(&m, FROM, T0 + 600, 600, 5).await.unwrap(), "a new window");
    store.clear_login_failures(&m, FROM).await.unwrap();
    for _ in 0..5 {
        assert!(store.reserve_login_attempt(&m, FROM, T0 + 601, 600, 5).await.unwrap(), "cleared");
    }
    assert!(!store.reserve_login_attempt(&m, FROM, T0 + 601, 600, 5).await.unwrap());
    // Another address has its own count: one address's failures lock only that address out.
    let elsewhere = ClientIp::parse("198.51.100.77");
    assert!(store.reserve_login_attempt(&m, elsewhere, T0 + 601, 600, 5).await.unwrap());
    store.clear_login_failures(&m, elsewhere).await.unwrap();
    assert!(!store.reserve_login_attempt(&m, FROM, T0 + 601, 600, 5).await.unwrap(), "cleared only there");
}

/// Embedded only: moto applies concurrent conditional `ADD`s without a lock and can let one
/// extra through (TOOLING.md); DynamoDB itself applies each conditional update atomically.
async fn racing_login_attempts_get_no_more_than_the_limit<S: Store + 'static>(store: S) {
    let store = Arc::new(store);
    let m = mobile();
    let allowed = join_all((0..N).map(|_| {
        let (s, m) = (store.clone(), m.clone());
        async move { s.reserve_login_attempt(&m, FROM, T0, 600, 5).await.unwrap() }
    }))
    .await;
    assert_eq!(allowed.iter().filter(|a| **a).count(), 5);
}

async fn avatar_urls_swap<S: Store + 'static>(store: S) {
    let (user, _) = new_user(&store).await;
    assert_eq!(store.set_avatar_url(user.id, "u1").await.unwrap(), Some(String::new()));
    assert_eq!(store.set_avatar_url(user.id, "u2").await.unwrap(), Some("u1".into()));
    assert_eq!(store.set_avatar_url(UserId::random(), "u3").await.unwrap(), None, "no such user");
}

async fn names_are_unique_and_released<S: Store + 'static>(store: S) {
    let (a, ta) = new_user(&store).await;
    let (b, tb) = new_user(&store).await;
    let name = UserName::parse(&unique("name")[..20]).unwrap();
    store.rename(&a, &name).await.unwrap();
    assert!(matches!(store.rename(&b, &name).await, Err(RenameError::Taken)));
    assert!(matches!(store.rename(&a, &UserName::parse("other").unwrap()).await, Err(RenameError::Conflict)), "stale");
    let a = store.authenticate(&ta, T0).await.unwrap().unwrap().user.unwrap();
    store.rename(&a, &UserName::parse(&unique("n2")[..20]).unwrap()).await.unwrap();
    let b = store.authenticate(&tb, T0).await.unwrap().unwrap().user.unwrap();
    store.rename(&b, &name).await.unwrap();
    assert_eq!(store.authenticate(&tb, T0).await.unwrap().unwrap().user.unwrap().name, name.as_str());
}

async fn racing_renames_to_one_name_have_one_winner<S: Store + 'static>(store: S) {
    let store = Arc::new(store);
    let mut users = Vec::new();
    for _ in 0..N {
        users.push(new_user(store.as_ref()).await.0);
    }
    let name = UserName::parse(&unique("hot")[..20]).unwrap();
    let outcomes = join_all(users.iter().map(|u| {
        let (s, name) = (store.clone(), name.clone());
        async move { s.rename(u, &name).await }
    }))
    .await;
    assert_eq!(outcomes.iter().filter(|o| o.is_ok()).count(), 1);
    assert!(outcomes.iter().all(|o| matches!(o, Ok(()) | Err(RenameError::Taken))));
}

async fn real_names_are_set_once_even_when_racing<S: Store + 'static>(store: S) {
    let store = Arc::new(store);
    let (user, token) = new_user(store.as_ref()).await;
    let id = IdCard::parse("11010519491231002X", 20_261_126).unwrap();
    let names = ["张三", "李四", "王五"];
    let set = join_all((0..N).map(|i| {
        let (s, id) = (store.clone(), id.clone());
        let name = RealName::parse(names[i % 3]).unwrap();
        async move { s.set_real_name(user.id, &name, &id).await.unwrap() }
    }))
    .await;
    assert_eq!(set.iter().filter(|s| **s).count(), 1);
    let u = store.authenticate(&token, T0).await.unwrap().unwrap().user.unwrap();
    assert!(names.contains(&u.real_name.unwrap().as_str()));
    assert_eq!(u.id_card.unwrap().as_str(), "11010519491231002X");
}

contract!(
    on_dynamodb: dynamo, on_embedded: embedded;
    [
        image_codes_are_one_time_and_expire,
        racing_takes_of_one_image_code_have_one_winner,
        sms_codes_throttle_count_tries_and_expire,
        racing_sms_reservations_have_one_winner,
        one_account_per_mobile_even_when_racing,
        sessions_expire_and_end_once,
        login_attempts_are_limited_per_window,
        racing_login_attempts_get_no_more_than_the_limit,
        avatar_urls_swap,
        names_are_unique_and_released,
        racing_renames_to_one_name_have_one_winner,
        real_names_are_set_once_even_when_racing,
    ]
);
