//! Lambda entry point: `DELETE /api/v1.0/user/sessions`.
//! The route itself is this crate's library (`src/lib.rs`); this builds its ports and serves it.
use ihome::{Route, lambda};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda::Error> {
    // DynamoDB alone: no SMS sender, no avatar store.
    let app = lambda::init()?.into_app((), ()).await;
    lambda::serve(Route::LogoutAll, move |req| async move { logout_all::handle(app, &req).await }).await
}
