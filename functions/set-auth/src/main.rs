//! Lambda entry point: `POST /api/v1.0/user/auth`.
#[tokio::main]
async fn main() -> Result<(), ihome::lambda::Error> {
    ihome::lambda::run(ihome::Route::SetAuth).await
}
