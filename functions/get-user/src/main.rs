//! Lambda entry point: `GET /api/v1.0/user`.
use ihome::routes::get_user;
use ihome::{Route, lambda};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda::Error> {
    // DynamoDB alone: no SMS sender, no avatar store.
    let app = lambda::init().await?.into_app((), ()).await;
    lambda::serve(Route::GetUser, move |req| async move { get_user::handle(app, &req).await }).await
}
