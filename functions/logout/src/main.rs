//! Lambda entry point: `DELETE /api/v1.0/session and DELETE /api/v1.0/sessions`.
use ihome::routes::logout;
use ihome::{Route, lambda};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda::Error> {
    // DynamoDB alone: no SMS sender, no avatar store.
    let app = lambda::init().await?.into_app((), ()).await;
    lambda::serve(Route::Logout, move |req| async move { logout::handle(app, &req).await }).await
}
