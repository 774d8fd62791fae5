//! Lambda entry point: `GET /api/v1.0/user`.
#[tokio::main]
async fn main() -> Result<(), ihome::lambda::Error> {
    ihome::lambda::run(ihome::Route::GetUser).await
}
