//! Lambda entry point: `DELETE /api/v1.0/user`.
//! The route itself is this crate's library (`src/lib.rs`); this builds its ports and serves it.
use ihome::avatars::S3Avatars;
use ihome::{Route, lambda};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda::Error> {
    let init = lambda::init()?;
    // DynamoDB (its budget too) and S3, to delete the avatar object.
    let (sms, avatars) = ((), S3Avatars::from_sdk(&init.sdk, &init.config));
    let app = init.into_app_with_budgets(sms, avatars).await;
    lambda::serve(Route::DeleteUser, move |req| async move { delete_user::handle(app, &req).await }).await
}
