//! Lambda entry point: `GET /api/v1.0/smscode/{mobile}`.
#[tokio::main]
async fn main() -> Result<(), ihome::lambda::Error> {
    ihome::lambda::run(ihome::Route::SmsCode).await
}
