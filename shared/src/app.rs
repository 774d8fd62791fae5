//! What every route runs with: configuration, store, SMS sender and clock, built once per container.

use std::sync::Arc;

use crate::avatars::{AvatarStore, S3Avatars};
use crate::clock::{Clock, SystemClock};
use crate::config::Config;
use crate::domain::{PasswordHash, SessionToken};
use crate::error::ApiError;
use crate::sms::{SmsSender, SnsSender};
use crate::store::{Authenticated, DynamoStore, Store};

pub struct App {
    pub config: Config,
    pub store: Store,
    pub sms: SmsSender,
    pub avatars: AvatarStore,
    pub clock: Arc<dyn Clock>,
    /// Verified against when a mobile is unknown, so login timing does not tell.
    pub dummy_hash: PasswordHash,
    /// Local runs only: where captcha answers are echoed (console and this JSON-lines file), so
    /// scripts and tests can drive the API without reading images. Never set under Lambda.
    pub captcha_echo: Option<std::path::PathBuf>,
}

impl App {
    pub fn new(config: Config, store: Store, sms: SmsSender, avatars: AvatarStore, clock: Arc<dyn Clock>) -> Self {
        let dummy_hash = PasswordHash::dummy(config.bcrypt_cost);
        App { config, store, sms, avatars, clock, dummy_hash, captcha_echo: None }
    }

    /// AWS clients from one shared SDK configuration (region, credentials, `AWS_ENDPOINT_URL*`).
    pub fn from_sdk_config(config: Config, sdk: &aws_config::SdkConfig) -> Self {
        let store = Store::Dynamo(DynamoStore::new(aws_sdk_dynamodb::Client::new(sdk), config.table.clone()));
        let sms = SmsSender::Sns(SnsSender::new(aws_sdk_sns::Client::new(sdk), config.sms_sender_id.clone()));
        let avatars = AvatarStore::S3(S3Avatars::new(aws_sdk_s3::Client::new(sdk), config.avatar_bucket.clone()));
        App::new(config, store, sms, avatars, Arc::new(SystemClock))
    }

    pub fn now(&self) -> i64 {
        self.clock.now()
    }

    /// Today's date as `YYYYMMDD` in the configured local time (bounds ID card birth dates).
    pub fn today(&self) -> u32 {
        let offset = time::UtcOffset::from_hms(self.config.utc_offset_hours, 0, 0).unwrap_or(time::UtcOffset::UTC);
        time::OffsetDateTime::from_unix_timestamp(self.now())
            .map(|t| t.to_offset(offset).date())
            .map(|d| d.year() as u32 * 10_000 + u32::from(u8::from(d.month())) * 100 + u32::from(d.day()))
            .unwrap_or(0)
    }

    /// The caller's live session (and user), or SESSIONERR.
    pub async fn authenticate(&self, token: &SessionToken) -> Result<Authenticated, ApiError> {
        self.store
            .authenticate(token, self.now())
            .await
            .map_err(ApiError::db("查询登录状态失败"))?
            .ok_or_else(ApiError::session)
    }
}
