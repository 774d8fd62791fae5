//! Lambda entry point: `POST /api/v1.0/users`.
use ihome::routes::register;
use ihome::{Route, lambda};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda::Error> {
    // DynamoDB alone: no SMS sender, no avatar store.
    let app = lambda::init().await?.into_app((), ()).await;
    lambda::serve(Route::Register, move |req| async move { register::handle(app, &req).await }).await
}
