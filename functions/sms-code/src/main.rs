//! Lambda entry point: `GET /api/v1.0/smscode/{mobile}`.
//! The route itself is this crate's library (`src/lib.rs`); this builds its ports and serves it.
use ihome::sms::SnsSender;
use ihome::{Route, lambda};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda::Error> {
    let init = lambda::init()?;
    // DynamoDB and SNS: the only clients this route calls.
    let (sms, avatars) = (SnsSender::from_sdk(&init.sdk, &init.config), ());
    let app = init.into_app_with_budgets(sms, avatars).await;
    lambda::serve(Route::SmsCode, move |req| async move { sms_code::handle(app, &req).await }).await
}
