//! Lambda entry point: `GET /api/v1.0/session`.
#[tokio::main]
async fn main() -> Result<(), ihome::lambda::Error> {
    ihome::lambda::run(ihome::Route::GetSession).await
}
