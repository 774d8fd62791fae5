//! Lambda entry point: `POST /api/v1.0/sessions`.
//! The route itself is this crate's library (`src/lib.rs`); this builds its ports and serves it.
use ihome::{Route, lambda};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda::Error> {
    // DynamoDB alone (its budgets too): no SMS sender, no avatar store.
    let app = lambda::init()?.into_app_with_budgets((), ()).await;
    lambda::serve(Route::Login, move |req| async move { login::handle(app, &req).await }).await
}
