//! Lambda entry point: `GET /api/v1.0/imagecode/{image_code_id}`.
//! The route itself is this crate's library (`src/lib.rs`); this builds its ports and serves it.
use ihome::{Route, lambda};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda::Error> {
    // DynamoDB alone (its budgets too): no SMS sender, no avatar store.
    let app = lambda::init()?.into_app_with_budgets((), ()).await;
    lambda::serve(Route::ImageCode, move |req| async move { image_code::handle(app, &req).await }).await
}
