//! Lambda entry point: `POST /api/v1.0/user/avatar`.
//! The route itself is this crate's library (`src/lib.rs`); this builds its ports and serves it.
use ihome::avatars::S3Avatars;
use ihome::{Route, lambda};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda::Error> {
    let init = lambda::init()?;
    // DynamoDB and S3: the only clients this route calls.
    let (sms, avatars) = ((), S3Avatars::from_sdk(&init.sdk, &init.config));
    let app = init.into_app(sms, avatars).await;
    lambda::serve(Route::UploadAvatar, move |req| async move { upload_avatar::handle(app, &req).await }).await
}
