//! Every route in one place: the local server and the tests serve them all, with handlers linked
//! from the function crates (each function links only its own).

use std::time::Instant;

use ihome::avatars::AvatarStore;
use ihome::limits::Limiter;
use ihome::sms::SmsSender;
use ihome::store::Store;
use ihome::{App, Route};
use lambda_http::{Body, Request, Response};

/// Runs `route`'s handler on an app that has every port. Every outcome is a complete response,
/// logged once as the functions log it.
pub async fn handle<S: Store, M: SmsSender, A: AvatarStore, L: Limiter>(
    route: Route,
    app: &App<S, M, A, L>,
    req: Request,
) -> Response<Body> {
    let started = Instant::now();
    // Each handler's future is boxed: inline, the match's future would be as large as the
    // largest handler's, and debug builds of the tests overflow a thread's stack.
    let result = match route {
        Route::ImageCode => Box::pin(image_code::handle(app, &req)).await,
        Route::SmsCode => Box::pin(sms_code::handle(app, &req)).await,
        Route::Register => Box::pin(register::handle(app, &req)).await,
        Route::Login => Box::pin(login::handle(app, &req)).await,
        Route::GetUser => Box::pin(get_user::handle(app, &req)).await,
        Route::UploadAvatar => Box::pin(upload_avatar::handle(app, &req)).await,
        Route::SetName => Box::pin(set_name::handle(app, &req)).await,
        Route::SetAuth => Box::pin(set_auth::handle(app, &req)).await,
        Route::GetAuth => Box::pin(get_auth::handle(app, &req)).await,
        Route::Logout => Box::pin(logout::handle(app, &req)).await,
        Route::GetSession => Box::pin(get_session::handle(app, &req)).await,
        Route::ChangePassword => Box::pin(change_password::handle(app, &req)).await,
        Route::ResetPassword => Box::pin(reset_password::handle(app, &req)).await,
        Route::LogoutAll => Box::pin(logout_all::handle(app, &req)).await,
        Route::DeleteUser => Box::pin(delete_user::handle(app, &req)).await,
    };
    route.respond(started, result)
}
