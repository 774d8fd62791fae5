//! The store's contract, run against both adapters: the embedded store (redb, `ihome-local`)
//! and DynamoDB on moto's server (made linearizable by the test command, as DynamoDB is). Same
//! operations, same guarantees, races and expiry included.

use std::sync::Arc;

use futures_util::future::join_all;
use ihome::domain::{
    ClientIp, IdCard, ImageCodeId, ImageCodeText, MAX_SESSIONS, Mobile, PasswordHash, RealName, SessionToken, SmsCode,
    SmsPurpose, User, UserId, UserName,
};
use ihome::store::{
    AccountDeletion, Authenticated, CreateUserError, NewSession, NewUser, PasswordChange, PasswordReset, RenameError,
    Store,
};
use ihome_tests::{T0, unique, unique_mobile};

use crate::adapters::{dynamo, embedded};

const N: usize = 24;

/// The client address login attempts are counted for.
const FROM: Option<ClientIp> = None;

fn mobile() -> Mobile {
    Mobile::parse(&unique_mobile()).expect("mobile")
}

/// The password hash `new_user` stores.
fn hash0() -> PasswordHash {
    PasswordHash::from_stored("$2b$04$hash".into())
}

/// Logs `user` in again (with `hash0`), expiring at `expires_at`.
async fn login<S: Store>(store: &S, user: &User, expires_at: i64) -> SessionToken {
    let token = SessionToken::generate(user.id);
    let added = store.add_session(&user.mobile, &hash0(), &NewSession::for_token(&token, expires_at), T0).await;
    assert!(added.unwrap(), "login");
    token
}

async fn live<S: Store>(store: &S, token: &SessionToken) -> bool {
    store.authenticate(token, T0).await.unwrap().is_some()
}

async fn auth<S: Store>(store: &S, token: &SessionToken) -> Authenticated {
    store.authenticate(token, T0).await.unwrap().expect("a live session")
}

/// Registers a user directly through the store (code reserved, then consumed).
async fn new_user<S: Store>(store: &S) -> (User, SessionToken) {
    let m = mobile();
    let code = SmsCode::generate();
    assert!(store.reserve_sms(&m, SmsPurpose::Register, &code, T0, 300, 60).await.unwrap());
    let id = UserId::random();
    let token = SessionToken::generate(id);
    let user = NewUser { id, mobile: m.clone(), password_hash: hash0(), create_time: T0 };
    store.create_user(&user, &code, &NewSession::for_token(&token, T0 + 86_400)).await.unwrap();
    let u = store.authenticate(&token, T0).await.unwrap().unwrap().user;
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
    assert!(store.reserve_sms(&m, SmsPurpose::Register, &code, T0, 300, 60).await.unwrap());
    assert!(
        !store.reserve_sms(&m, SmsPurpose::Register, &SmsCode::generate(), T0 + 59, 300, 60).await.unwrap(),
        "60 s rule"
    );
    for _ in 0..5 {
        assert_eq!(store.check_out_sms(&m, SmsPurpose::Register, T0 + 1, 5).await.unwrap(), Some(code.clone()));
    }
    assert_eq!(store.check_out_sms(&m, SmsPurpose::Register, T0 + 1, 5).await.unwrap(), None, "tries used up");
    let fresh = SmsCode::generate();
    assert!(
        store.reserve_sms(&m, SmsPurpose::Register, &fresh, T0 + 60, 300, 60).await.unwrap(),
        "a new code after 60 s"
    );
    assert_eq!(store.check_out_sms(&m, SmsPurpose::Register, T0 + 359, 5).await.unwrap(), Some(fresh.clone()));
    assert_eq!(store.check_out_sms(&m, SmsPurpose::Register, T0 + 360, 5).await.unwrap(), None, "expired");
    store.release_sms(&m, SmsPurpose::Register, &SmsCode::generate()).await.unwrap();
    assert!(
        !store.reserve_sms(&m, SmsPurpose::Register, &SmsCode::generate(), T0 + 100, 300, 60).await.unwrap(),
        "other code kept"
    );
    store.release_sms(&m, SmsPurpose::Register, &fresh).await.unwrap();
    assert!(
        store.reserve_sms(&m, SmsPurpose::Register, &SmsCode::generate(), T0 + 100, 300, 60).await.unwrap(),
        "released"
    );
}

async fn racing_sms_reservations_have_one_winner<S: Store + 'static>(store: S) {
    let store = Arc::new(store);
    let m = mobile();
    let won = join_all((0..N).map(|_| {
        let (s, m) = (store.clone(), m.clone());
        async move { s.reserve_sms(&m, SmsPurpose::Register, &SmsCode::generate(), T0, 300, 60).await.unwrap() }
    }))
    .await;
    assert_eq!(won.iter().filter(|w| **w).count(), 1);
}

async fn one_account_per_mobile_even_when_racing<S: Store + 'static>(store: S) {
    let store = Arc::new(store);
    let m = mobile();
    let code = SmsCode::generate();
    assert!(store.reserve_sms(&m, SmsPurpose::Register, &code, T0, 300, 60).await.unwrap());
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
    let a = store.authenticate(&token, T0 + 86_399).await.unwrap().unwrap();
    assert_eq!((a.user.id, a.session_expires_at), (user.id, T0 + 86_400));
    assert!(store.authenticate(&token, T0 + 86_400).await.unwrap().is_none(), "expired");
    let other = SessionToken::generate(user.id);
    assert!(store.authenticate(&other, T0).await.unwrap().is_none(), "unknown secret");
    let t2 = login(&store, &user, T0 + 100).await;
    assert!(store.end_session(&t2, T0).await.unwrap());
    assert!(!store.end_session(&t2, T0).await.unwrap(), "ends once");
    assert!(!live(&store, &t2).await);
    assert!(live(&store, &token).await, "the other session stays");
    let expired = login(&store, &user, T0 + 10).await;
    assert!(!store.end_session(&expired, T0 + 10).await.unwrap(), "an expired session cannot be ended");
}

async fn a_session_is_added_only_with_the_password_verified<S: Store + 'static>(store: S) {
    let (user, _) = new_user(&store).await;
    let token = SessionToken::generate(user.id);
    let session = NewSession::for_token(&token, T0 + 100);
    let stale = PasswordHash::from_stored("$2b$04$old".into());
    assert!(!store.add_session(&user.mobile, &stale, &session, T0).await.unwrap(), "another password");
    assert!(!store.add_session(&mobile(), &hash0(), &session, T0).await.unwrap(), "another mobile");
    assert!(!live(&store, &token).await);
}

async fn the_session_index_is_bounded<S: Store + 'static>(store: S) {
    let (user, first) = new_user(&store).await; // expires T0 + 86_400: the last to expire
    let dead = login(&store, &user, T0 + 5).await;
    let mut tokens = Vec::new();
    for i in 0..MAX_SESSIONS {
        let token = SessionToken::generate(user.id);
        let session = NewSession::for_token(&token, T0 + 1_000 + i as i64);
        assert!(store.add_session(&user.mobile, &hash0(), &session, T0 + 10).await.unwrap());
        tokens.push(token);
    }
    // 12 added, 10 kept: the expired one went first, then the one that expired soonest.
    assert!(!live(&store, &dead).await);
    assert!(!live(&store, &tokens[0]).await, "the oldest is evicted");
    for t in tokens.iter().skip(1).chain([&first]) {
        assert!(live(&store, t).await);
    }
}

async fn ending_every_session_ends_them_all<S: Store + 'static>(store: S) {
    let (user, token) = new_user(&store).await;
    let others = [login(&store, &user, T0 + 500).await, login(&store, &user, T0 + 600).await];
    let (_, stranger_token) = new_user(&store).await;
    assert!(!store.end_all_sessions(&SessionToken::generate(user.id), T0).await.unwrap(), "not a live session");
    assert!(live(&store, &token).await);
    assert!(store.end_all_sessions(&others[0], T0).await.unwrap());
    for t in others.iter().chain([&token]) {
        assert!(!live(&store, t).await);
    }
    assert!(live(&store, &stranger_token).await, "another user's sessions stay");
    let again = login(&store, &user, T0 + 100).await;
    assert!(live(&store, &again).await, "a new login works");
    assert!(store.end_all_sessions(&stranger_token, T0).await.unwrap());
    assert!(live(&store, &again).await, "another user's logout ends none of these");
}

async fn a_password_change_keeps_only_this_session<S: Store + 'static>(store: S) {
    let (user, token) = new_user(&store).await;
    let other = login(&store, &user, T0 + 500).await;
    let new = PasswordHash::from_stored("$2b$04$new".into());
    let me = auth(&store, &token).await;
    let stale = PasswordHash::from_stored("$2b$04$stale".into());
    assert_eq!(store.change_password(&me, &token, &stale, &new, T0).await.unwrap(), PasswordChange::Stale);
    assert!(live(&store, &other).await, "nothing changed");
    assert_eq!(store.change_password(&me, &token, &hash0(), &new, T0).await.unwrap(), PasswordChange::Changed);
    assert!(live(&store, &token).await, "this session stays");
    assert!(!live(&store, &other).await, "every other one ends");
    assert_eq!(store.credentials(&user.mobile).await.unwrap().unwrap().password_hash.as_str(), new.as_str());
    assert_eq!(store.change_password(&me, &token, &hash0(), &new, T0).await.unwrap(), PasswordChange::Stale);
    let ended = SessionToken::generate(user.id);
    assert_eq!(store.change_password(&me, &ended, &new, &hash0(), T0).await.unwrap(), PasswordChange::SessionEnded);
}

/// Logins that checked the old password race a change: none of their sessions outlives it.
async fn a_login_racing_a_password_change_leaves_no_old_session<S: Store + 'static>(store: S) {
    let store = Arc::new(store);
    let (user, token) = new_user(store.as_ref()).await;
    let me = auth(store.as_ref(), &token).await;
    let new = PasswordHash::from_stored("$2b$04$new".into());
    let logins = (0..N).map(|_| {
        let (s, user) = (store.clone(), user.clone());
        async move {
            let t = SessionToken::generate(user.id);
            s.add_session(&user.mobile, &hash0(), &NewSession::for_token(&t, T0 + 900), T0).await.unwrap();
            t
        }
    });
    let old = hash0();
    let change = store.change_password(&me, &token, &old, &new, T0);
    let (tokens, changed) = tokio::join!(join_all(logins), change);
    assert_eq!(changed.unwrap(), PasswordChange::Changed);
    for t in &tokens {
        assert!(!live(store.as_ref(), t).await, "a session made with the old password survived the change");
    }
    assert!(live(store.as_ref(), &token).await);
}

async fn a_reset_sets_the_password_and_ends_every_session<S: Store + 'static>(store: S) {
    let (user, token) = new_user(&store).await;
    let new = PasswordHash::from_stored("$2b$04$reset".into());
    // A registration code never resets a password.
    let register_code = SmsCode::generate();
    assert!(store.reserve_sms(&user.mobile, SmsPurpose::Register, &register_code, T0, 300, 60).await.unwrap());
    assert_eq!(store.check_out_sms(&user.mobile, SmsPurpose::Reset, T0, 5).await.unwrap(), None);
    let wrong = store.reset_password(&user.mobile, user.id, &register_code, &new).await.unwrap();
    assert_eq!(wrong, PasswordReset::CodeGone);
    let code = SmsCode::generate();
    assert!(store.reserve_sms(&user.mobile, SmsPurpose::Reset, &code, T0, 300, 60).await.unwrap(), "a gap of its own");
    assert_eq!(store.check_out_sms(&user.mobile, SmsPurpose::Reset, T0, 5).await.unwrap(), Some(code.clone()));
    assert_eq!(store.reset_password(&user.mobile, user.id, &code, &new).await.unwrap(), PasswordReset::Reset);
    assert!(!live(&store, &token).await, "every session ends");
    assert_eq!(store.credentials(&user.mobile).await.unwrap().unwrap().password_hash.as_str(), new.as_str());
    assert_eq!(store.reset_password(&user.mobile, user.id, &code, &hash0()).await.unwrap(), PasswordReset::CodeGone);
    assert_eq!(store.check_out_sms(&user.mobile, SmsPurpose::Register, T0, 5).await.unwrap(), Some(register_code));
    // A reset code never registers.
    let fresh = mobile();
    let reset_code = SmsCode::generate();
    assert!(store.reserve_sms(&fresh, SmsPurpose::Reset, &reset_code, T0, 300, 60).await.unwrap());
    let id = UserId::random();
    let new_user = NewUser { id, mobile: fresh.clone(), password_hash: hash0(), create_time: T0 };
    let session = NewSession::for_token(&SessionToken::generate(id), T0 + 60);
    assert!(matches!(store.create_user(&new_user, &reset_code, &session).await, Err(CreateUserError::CodeGone)));
    assert!(!store.mobile_registered(&fresh).await.unwrap());
    let no_account = store.reset_password(&fresh, id, &reset_code, &hash0()).await.unwrap();
    assert_eq!(no_account, PasswordReset::NoAccount);
}

async fn racing_resets_with_one_code_have_one_winner<S: Store + 'static>(store: S) {
    let store = Arc::new(store);
    let (user, _) = new_user(store.as_ref()).await;
    let code = SmsCode::generate();
    assert!(store.reserve_sms(&user.mobile, SmsPurpose::Reset, &code, T0, 300, 60).await.unwrap());
    let outcomes = join_all((0..N).map(|i| {
        let (s, user, code) = (store.clone(), user.clone(), code.clone());
        async move {
            let new = PasswordHash::from_stored(format!("$2b$04$racer{i}"));
            s.reset_password(&user.mobile, user.id, &code, &new).await.unwrap()
        }
    }))
    .await;
    assert_eq!(outcomes.iter().filter(|o| **o == PasswordReset::Reset).count(), 1);
    assert!(outcomes.iter().all(|o| matches!(o, PasswordReset::Reset | PasswordReset::CodeGone)));
}

async fn a_deleted_account_is_gone_and_its_mobile_free<S: Store + 'static>(store: S) {
    let (user, token) = new_user(&store).await;
    let name = UserName::parse(&unique("gone")[..20]).unwrap();
    store.rename(&user, &name).await.unwrap();
    let other = login(&store, &user, T0 + 500).await;
    let id = IdCard::parse("11010519491231002X", 20_261_126).unwrap();
    assert!(store.set_real_name(user.id, &RealName::parse("张三").unwrap(), &id).await.unwrap());
    let stale = auth(&store, &token).await;
    store.set_avatar_url(user.id, "https://avatars.example/avatars/x.png").await.unwrap();
    assert_eq!(store.delete_user(&stale, &token, T0).await.unwrap(), AccountDeletion::Changed, "as read only");
    assert!(live(&store, &token).await, "nothing deleted");
    let me = auth(&store, &token).await;
    assert_eq!(store.delete_user(&me, &token, T0).await.unwrap(), AccountDeletion::Deleted);
    assert!(!live(&store, &token).await && !live(&store, &other).await, "every session ends");
    assert!(!store.mobile_registered(&user.mobile).await.unwrap());
    assert!(store.credentials(&user.mobile).await.unwrap().is_none());
    assert_eq!(store.set_avatar_url(user.id, "u").await.unwrap(), None, "the user item is gone");
    assert_eq!(store.delete_user(&me, &token, T0).await.unwrap(), AccountDeletion::Changed, "once");
    // The name is free again, and the mobile registers again.
    let (someone, _) = new_user(&store).await;
    store.rename(&someone, &name).await.unwrap();
    let code = SmsCode::generate();
    assert!(store.reserve_sms(&user.mobile, SmsPurpose::Register, &code, T0 + 60, 300, 60).await.unwrap());
    let again = NewUser { id: UserId::random(), mobile: user.mobile.clone(), password_hash: hash0(), create_time: T0 };
    let session = NewSession::for_token(&SessionToken::generate(again.id), T0 + 60);
    store.create_user(&again, &code, &session).await.unwrap();
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
    let a = store.authenticate(&ta, T0).await.unwrap().unwrap().user;
    store.rename(&a, &UserName::parse(&unique("n2")[..20]).unwrap()).await.unwrap();
    let b = store.authenticate(&tb, T0).await.unwrap().unwrap().user;
    store.rename(&b, &name).await.unwrap();
    assert_eq!(store.authenticate(&tb, T0).await.unwrap().unwrap().user.name, name.as_str());
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
    let u = store.authenticate(&token, T0).await.unwrap().unwrap().user;
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
        a_session_is_added_only_with_the_password_verified,
        the_session_index_is_bounded,
        ending_every_session_ends_them_all,
        a_password_change_keeps_only_this_session,
        a_login_racing_a_password_change_leaves_no_old_session,
        a_reset_sets_the_password_and_ends_every_session,
        racing_resets_with_one_code_have_one_winner,
        a_deleted_account_is_gone_and_its_mobile_free,
        login_attempts_are_limited_per_window,
        racing_login_attempts_get_no_more_than_the_limit,
        avatar_urls_swap,
        names_are_unique_and_released,
        racing_renames_to_one_name_have_one_winner,
        real_names_are_set_once_even_when_racing,
    ]
);
