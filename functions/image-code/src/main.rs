//! Lambda entry point: `GET /api/v1.0/imagecode/{image_code_id}`.
#[tokio::main]
async fn main() -> Result<(), ihome::lambda::Error> {
    ihome::lambda::run(ihome::Route::ImageCode).await
}
