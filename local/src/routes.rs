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
    let result = match route {
        Route::ImageCode => image_code::handle(app, &req).await,
        Route::SmsCode => sms_code::handle(app, &req).await,
        Route::Register => register::handle(app, &req).await,
        Route::Login => login::handle(app, &req).await,
        Route::GetUser => get_user::handle(app, &req).await,
        Route::UploadAvatar => upload_avatar::handle(app, &req).await,
        Route::SetName => set_name::handle(app, &req).await,
        Route::SetAuth => set_auth::handle(app, &req).await,
        Route::GetAuth => get_auth::handle(app, &req).await,
        Route::Logout => logout::handle(app, &req).await,
        Route::GetSession => get_session::handle(app, &req).await,
    };
    route.respond(started, result)
}
