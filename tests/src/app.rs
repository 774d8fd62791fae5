//! A fresh app per test: its own table and bucket in moto, the DynamoDB client counted (round
//! trips, IAM actions), a clock the test moves.

use std::sync::Arc;

use aws_config::SdkConfig;
use aws_sdk_dynamodb::types::AttributeValue;
use ihome::App;
use ihome::avatars::S3Avatars;
use ihome::cache::{CacheEndpoint, Counters, RedisCounters};
use ihome::config::Config;
use ihome::sms::SnsSender;
use ihome::store::{DynamoStore, keys};
use serde_json::json;

use crate::client::Client;
use crate::clock::ManualClock;
use crate::counting::CallCounter;
use crate::emulator::{create_table, sdk_config, unique, unique_mobile};

/// The app every test runs: the Lambda functions' adapters, all of them.
pub type TestedApp = ihome_local::backends::AwsApp;

/// Start of every test clock: a fixed, realistic instant.
pub const T0: i64 = 1_790_000_000;

pub struct TestApp {
    pub app: Arc<TestedApp>,
    pub clock: ManualClock,
    pub table: String,
    pub dynamo: aws_sdk_dynamodb::Client,
    pub calls: CallCounter,
    pub bucket: String,
    pub s3: aws_sdk_s3::Client,
}

pub struct Builder {
    config: Config,
    dynamo_sdk: Option<SdkConfig>,
    sns_sdk: Option<SdkConfig>,
    s3_sdk: Option<SdkConfig>,
    cache: Option<CacheEndpoint>,
}

/// The avatar base URL every test app is configured with.
pub const AVATAR_BASE: &str = "https://avatars.ihome.test/";

impl TestApp {
    pub fn builder() -> Builder {
        let config = Config { cookie_secure: true, bcrypt_cost: 4, ..Config::default() };
        Builder { config, dynamo_sdk: None, sns_sdk: None, s3_sdk: None, cache: None }
    }

    pub async fn spawn() -> TestApp {
        Self::builder().build().await
    }

    pub fn client(&self) -> Client {
        Client::new(self.app.clone(), self.calls.clone(), (self.dynamo.clone(), self.table.clone()))
    }

    pub fn store(&self) -> &DynamoStore {
        &self.app.store
    }

    /// Deletes the user item behind a logged-in client, leaving its session: "user gone".
    pub async fn delete_user(&self, client: &Client) {
        let token = client.session_token().expect("logged in");
        let uid = token.split_once('.').map(|(u, _)| u.to_owned()).unwrap_or_default();
        self.dynamo
            .delete_item()
            .table_name(&self.table)
            .key(keys::PK, AttributeValue::S(format!("{}{uid}", keys::USER_PREFIX)))
            .send()
            .await
            .expect("delete user item");
    }

    /// The stored captcha answer, read without consuming it (and without being counted).
    pub async fn peek_image_code(&self, id: &str) -> Option<String> {
        peek_image_code(&self.dynamo, &self.table, id).await
    }

    /// A client holding the bearer token of a session that has ended (registered, logged out).
    pub async fn ended_session_client(&self) -> Client {
        let (c, _, _) = self.registered_user().await;
        let mut stale = self.client();
        stale.use_bearer(c.session_token());
        stale.delete("/api/v1.0/session").await.assert("0", "OK");
        stale
    }

    /// Registers a fresh user through the routes (captcha → SMS → register) and returns the
    /// logged-in client with its mobile and password.
    pub async fn registered_user(&self) -> (Client, String, String) {
        let mut c = self.client();
        let mobile = unique_mobile();
        let password = "correct horse 1".to_owned();
        let code = c.request_sms_fixture(&mobile).await;
        let r =
            c.post_json("/api/v1.0/users", &json!({"mobile": mobile, "sms_code": code, "password": password})).await;
        assert_eq!(r.errno(), "0", "register: {}", r.text());
        (c, mobile, password)
    }
}

impl Builder {
    pub fn config(mut self, f: impl FnOnce(&mut Config)) -> Self {
        f(&mut self.config);
        self
    }

    /// DynamoDB through this SDK config instead of moto's (e.g. an unreachable one).
    pub fn dynamo_sdk(mut self, sdk: SdkConfig) -> Self {
        self.dynamo_sdk = Some(sdk);
        self
    }

    pub fn sns_sdk(mut self, sdk: SdkConfig) -> Self {
        self.sns_sdk = Some(sdk);
        self
    }

    pub fn s3_sdk(mut self, sdk: SdkConfig) -> Self {
        self.s3_sdk = Some(sdk);
        self
    }

    /// Budgets counted in the cache tier at `endpoint` (the test command's redis-server, or one
    /// that is down or slow), with the table's counters for when it is unavailable.
    pub fn cache(mut self, endpoint: CacheEndpoint) -> Self {
        self.cache = Some(endpoint);
        self
    }

    pub async fn build(mut self) -> TestApp {
        let moto = sdk_config().await;
        let calls = CallCounter::default();
        let table = unique("ihome");
        let dynamo = aws_sdk_dynamodb::Client::new(&moto);
        create_table(&dynamo, &table).await;
        self.config.table = table.clone();
        let bucket = unique("avatars").to_lowercase();
        let s3 = aws_sdk_s3::Client::new(&moto);
        s3.create_bucket().bucket(&bucket).send().await.expect("create bucket in moto");
        self.config.avatar_bucket = bucket.clone();
        self.config.avatar_base_url = AVATAR_BASE.into();
        let avatar_client = aws_sdk_s3::Client::new(self.s3_sdk.as_ref().unwrap_or(&moto));
        let store_sdk = self.dynamo_sdk.unwrap_or_else(|| moto.clone());
        let store_client = aws_sdk_dynamodb::Client::from_conf(
            aws_sdk_dynamodb::config::Builder::from(&store_sdk).interceptor(calls.clone()).build(),
        );
        let sns = aws_sdk_sns::Client::new(self.sns_sdk.as_ref().unwrap_or(&moto));
        let clock = ManualClock::new(T0);
        let store = DynamoStore::new(store_client, table.clone());
        let app = App::with_clock(
            self.config.clone(),
            store.clone(),
            SnsSender::new(sns, None),
            S3Avatars::new(avatar_client, bucket.clone()),
            Arc::new(clock.clone()),
        )
        .with_limiter(match self.cache {
            None => Counters::store_only(store),
            Some(e) => Counters::cached(Arc::new(RedisCounters::new(e, &table)), store),
        });
        TestApp { app: Arc::new(app), clock, table, dynamo, calls, bucket, s3 }
    }
}

/// The stored captcha answer, read without consuming it.
pub async fn peek_image_code(dynamo: &aws_sdk_dynamodb::Client, table: &str, id: &str) -> Option<String> {
    let out = dynamo
        .get_item()
        .table_name(table)
        .key(keys::PK, AttributeValue::S(format!("{}{id}", keys::IMAGE_CODE_PREFIX)))
        .consistent_read(true)
        .send()
        .await
        .ok()?;
    out.item?.get("code")?.as_s().ok().cloned()
}
