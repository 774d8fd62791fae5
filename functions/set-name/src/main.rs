//! Lambda entry point: `PUT /api/v1.0/user/name`.
#[tokio::main]
async fn main() -> Result<(), ihome::lambda::Error> {
    ihome::lambda::run(ihome::Route::SetName).await
}
