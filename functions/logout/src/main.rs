//! Lambda entry point: `DELETE /api/v1.0/session and DELETE /api/v1.0/sessions`.
#[tokio::main]
async fn main() -> Result<(), ihome::lambda::Error> {
    ihome::lambda::run(ihome::Route::Logout).await
}
