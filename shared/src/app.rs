//! What every route runs with: configuration, store, SMS sender and clock, built once per container.

use std::sync::Arc;

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
    pub clock: Arc<dyn Clock>,
    /// Verified against when a mobile is unknown, so login timing does not tell.
    pub dummy_hash: PasswordHash,
}

impl App {
    pub fn new(config: Config, store: Store, sms: SmsSender, clock: Arc<dyn Clock>) -> Self {
        let dummy_hash = PasswordHash::dummy(config.bcrypt_cost);
        App {
            config,
            store,
            sms,
            clock,
            dummy_hash,
        }
    }

    /// AWS clients from one shared SDK configuration (region, credentials, `AWS_ENDPOINT_URL*`).
    pub fn from_sdk_config(config: Config, sdk: &aws_config::SdkConfig) -> Self {
        let store = Store::Dynamo(DynamoStore::new(
            aws_sdk_dynamodb::Client::new(sdk),
            config.table.clone(),
        ));
        let sms = SmsSender::Sns(SnsSender::new(
            aws_sdk_sns::Client::new(sdk),
            config.sms_sender_id.clone(),
        ));
        App::new(config, store, sms, Arc::new(SystemClock))
    }

    pub fn now(&self) -> i64 {
        self.clock.now()
    }

    /// The caller's live session (and user), or SESSIONERR.
    pub async fn authenticate(
        &self,
        token: Option<SessionToken>,
    ) -> Result<Authenticated, ApiError> {
        let token = token.ok_or_else(ApiError::session)?;
        self.store
            .authenticate(&token, self.now())
            .await
            .map_err(ApiError::db("查询登录状态失败"))?
            .ok_or_else(ApiError::session)
    }
}
