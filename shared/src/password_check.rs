//! Checking a password: counted as a login attempt and run at the configured cost, by login and by
//! the routes that ask for the password again (a new password, account deletion), so a stolen
//! session cannot guess the password faster than the login route allows.

use crate::app::App;
use crate::domain::{ClientIp, Mobile, Password, PasswordHash, User};
use crate::errno::Errno;
use crate::error::ApiError;
use crate::http;
use crate::limits::{self, Budget, Counter, Limiter, Subject};
use crate::store::{Credentials, Store};

/// A login attempt on a mobile from one address, taken before any password is checked.
pub struct Attempt {
    mobile: Mobile,
    from: Option<ClientIp>,
    budget: [Counter; 1],
}

impl Attempt {
    /// Counts an attempt on `mobile` from `from`: per mobile from this address (5 per 10
    /// minutes, so another address's failures cannot lock the owner out) and per mobile from all
    /// addresses (a slow, spread-out guessing budget), alongside the credentials read. REQERR
    /// past either; a burst of guesses gets no more than the limits, however many race.
    pub async fn take<S: Store, M, A, L: Limiter>(
        app: &App<S, M, A, L>,
        mobile: &Mobile,
        from: Option<ClientIp>,
    ) -> Result<(Option<Credentials>, Attempt), ApiError> {
        let cfg = &app.config;
        let now = app.now();
        let budget = [Counter::new(Budget::LoginPerMobile, Subject::Mobile(mobile.clone()), &cfg.limits)];
        let (credentials, allowed, taken) = tokio::join!(
            app.store.credentials(mobile),
            app.store.reserve_login_attempt(mobile, from, now, cfg.login_failure_window, cfg.login_max_failures),
            limits::take_or_refuse(&app.limiter, &budget, now)
        );
        let refused = match allowed {
            Ok(true) => None,
            Ok(false) => Some(ApiError::req("错误次数过多，请稍后重试")),
            Err(e) => Some(ApiError::db("查询用户信息失败")(e)),
        };
        if let Some(refused) = refused {
            // No password is checked: the mobile's unit goes back.
            if taken.is_ok() {
                limits::give_back(&app.limiter, &budget, now).await;
            }
            return Err(refused);
        }
        taken?;
        let credentials = credentials.map_err(ApiError::db("查询用户信息失败"))?;
        Ok((credentials, Attempt { mobile: mobile.clone(), from, budget }))
    }

    /// What a password that matched does: clears this address's failures and gives the mobile's
    /// unit back, so the windows keep failures only. Run it alongside the route's own write.
    pub async fn settle<S: Store, M, A, L: Limiter>(&self, app: &App<S, M, A, L>) {
        let (cleared, ()) = tokio::join!(
            app.store.clear_login_failures(&self.mobile, self.from),
            limits::give_back(&app.limiter, &self.budget, app.now())
        );
        if let Err(e) = cleared {
            tracing::warn!(error = %e, "could not clear login failures");
        }
    }
}

/// Whether `password` matches `hash`: always one bcrypt verify at the configured cost, against a
/// dummy hash when there is none (an unknown mobile) or when the password is one no account could
/// have, so neither answers faster. Off the executor.
pub async fn matches<S, M, A, L>(
    app: &App<S, M, A, L>,
    password: &str,
    hash: Option<&PasswordHash>,
) -> Result<bool, ApiError> {
    let password = Password::parse(password).ok();
    let (hash, known) = match hash {
        Some(h) => (h.clone(), true),
        None => (app.dummy_hash.clone(), false),
    };
    let dummy = app.dummy_hash.clone();
    let matched = tokio::task::spawn_blocking(move || match password {
        Some(p) => p.verify(&hash),
        None => {
            let _ = Password::parse("timing-equaliser").map(|p| p.verify(&dummy));
            false
        }
    })
    .await
    .map_err(|e| ApiError::infra(Errno::ServerErr, "内部错误", &e))?;
    Ok(matched && known)
}

/// A password that matched the logged-in user's: the stored hash it matched, and its attempt.
pub struct Verified {
    pub hash: PasswordHash,
    pub attempt: Attempt,
}

/// Checks `password` against `user`'s, counted as a login attempt on the user's mobile from the
/// caller's address: REQERR past the limits, PWDERR when it does not match.
pub async fn verify_user<S: Store, M, A, L: Limiter>(
    app: &App<S, M, A, L>,
    req: &lambda_http::Request,
    user: &User,
    password: &str,
) -> Result<Verified, ApiError> {
    let (credentials, attempt) = Attempt::take(app, &user.mobile, http::client_ip(req)).await?;
    // The mobile's credentials are the user's while the account exists.
    let credentials = credentials.filter(|c| c.user_id == user.id).ok_or_else(ApiError::session)?;
    if !matches(app, password, Some(&credentials.password_hash)).await? {
        // The attempt stays counted.
        return Err(ApiError::new(Errno::PwdErr, "密码错误"));
    }
    Ok(Verified { hash: credentials.password_hash, attempt })
}

/// Hashes a new password at the configured cost, off the executor.
pub async fn hash(password: Password, cost: u32) -> Result<PasswordHash, ApiError> {
    tokio::task::spawn_blocking(move || password.hash(cost))
        .await
        .map_err(|e| ApiError::infra(Errno::ServerErr, "内部错误", &e))?
        .map_err(|e| ApiError::infra(Errno::ServerErr, "内部错误", &e))
}
