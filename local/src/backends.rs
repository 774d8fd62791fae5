//! Which storage, SMS and avatar services the local server runs on, and the one definition of
//! the DynamoDB table for everything that creates it outside the stack (this server, the tests).

use std::path::Path;

use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType, TimeToLiveSpecification,
};
use ihome::App;
use ihome::avatars::S3Avatars;
use ihome::cache::{CacheEndpoint, CacheSetting, Counters, RedisCounters};
use ihome::config::Config;
use ihome::sms::SnsSender;
use ihome::store::DynamoStore;
use ihome::store::keys::{PK, TTL};

use crate::avatar_bucket::AvatarBucket;
use crate::server::AvatarFiles;
use crate::{AvatarDir, ConsoleSms, EmbeddedStore};

/// The local adapters: a redb file (also counting the abuse budgets, unless a Redis is given),
/// the console outbox, an avatar folder.
pub type EmbeddedApp = App<EmbeddedStore, ConsoleSms, AvatarDir, Counters<EmbeddedStore>>;
/// The AWS adapters, through the SDK's standard settings (an emulator or AWS); budgets are
/// counted in the DynamoDB table, or in the cache tier when one is configured.
pub type AwsApp = App<DynamoStore, SnsSender, S3Avatars, Counters<DynamoStore>>;

pub enum Backend {
    Embedded(EmbeddedApp),
    Aws(AwsApp),
}

/// A backend, where the server finds the avatars it serves, and the lines that describe them in
/// the start-up banner.
pub struct Chosen {
    pub backend: Backend,
    pub avatars: AvatarFiles,
    pub describe: Vec<String>,
}

/// True when the SDK's standard endpoint settings point somewhere (an emulator or AWS).
pub fn aws_endpoint_configured() -> bool {
    std::env::vars().any(|(k, v)| k.starts_with("AWS_ENDPOINT_URL") && !v.trim().is_empty())
}

/// Settings for local runs: plain HTTP, so the cookie cannot be `Secure` unless asked for.
fn local_config() -> Result<Config, String> {
    let mut config = Config::from_env().map_err(|e| e.to_string())?;
    if std::env::var("IHOME_COOKIE_SECURE").is_err() {
        config.cookie_secure = false;
    }
    Ok(config)
}

/// The budgets' counters: in `redis` (from `--redis`, else `IHOME_CACHE_ENDPOINT`) when given,
/// with `store` for when it is down; in `store` alone otherwise.
fn counters<F>(
    redis: Option<CacheEndpoint>,
    config: &Config,
    sdk: Option<&aws_config::SdkConfig>,
    store: F,
    describe: &mut Vec<String>,
) -> Result<Counters<F>, String> {
    let setting = redis.map(CacheSetting::Endpoint).or_else(|| config.cache.clone());
    let cache = match (setting, sdk) {
        (None, _) => return Ok(Counters::store_only(store)),
        (Some(CacheSetting::Endpoint(e)), _) => {
            describe.push(format!("abuse counters: Redis at {e}"));
            RedisCounters::new(e, &config.table)
        }
        (Some(setting @ CacheSetting::Name(_)), Some(sdk)) => {
            describe.push(format!("abuse counters: ElastiCache {setting:?}, looked up"));
            RedisCounters::from_setting(&setting, sdk, &config.table)
        }
        (Some(CacheSetting::Name(_)), None) => {
            return Err("IHOME_CACHE_NAME needs --aws (the look-up calls ElastiCache); or use --redis URL".into());
        }
    };
    Ok(Counters::cached(std::sync::Arc::new(cache), store))
}

pub fn embedded(data: &Path, base: &str, redis: Option<CacheEndpoint>) -> Result<Chosen, String> {
    let avatars = data.join("avatars");
    std::fs::create_dir_all(&avatars).map_err(|e| format!("cannot create {}: {e}", avatars.display()))?;
    let db_path = data.join("ihome.redb");
    let outbox = data.join("sms.jsonl");
    let mut config = local_config()?;
    config.avatar_base_url = format!("{base}/");
    let captchas = data.join("captcha.jsonl");
    let mut describe = vec![
        format!("storage: embedded (redb) at {}", db_path.display()),
        format!("SMS: not sent; codes are printed here and appended to {}", outbox.display()),
        format!("captchas: answers are printed here and appended to {}", captchas.display()),
        format!("avatars: files in {}, served at {base}/avatars/", avatars.display()),
    ];
    let store = EmbeddedStore::open(&db_path)
        .map_err(|e| format!("cannot open {}: {e}", db_path.display()))?
        .with_captcha_echo(captchas);
    let counters = counters(redis, &config, None, store.clone(), &mut describe)?;
    let app = App::new(config, store.clone(), ConsoleSms::new(outbox), AvatarDir::new(&avatars)).with_limiter(counters);
    Ok(Chosen { backend: Backend::Embedded(app), avatars: AvatarFiles::Dir(avatars), describe })
}

/// DynamoDB, SNS and S3 through the SDK's standard settings. For an emulator's convenience the
/// table and bucket are created when missing. The bucket stays private, as in the stack: the
/// server itself serves its avatars at `<base>/avatars/…` (CloudFront's part in the stack), and
/// the avatar URLs point there unless `IHOME_AVATAR_BASE_URL` names another server.
pub async fn aws(base: &str, redis: Option<CacheEndpoint>) -> Result<Chosen, String> {
    let mut config = local_config()?;
    let base_given = std::env::var("IHOME_AVATAR_BASE_URL").is_ok_and(|v| !v.trim().is_empty());
    if !base_given {
        config.avatar_base_url = format!("{base}/");
    }
    let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let s3 = aws_sdk_s3::Client::new(&sdk);
    ensure_table(&aws_sdk_dynamodb::Client::new(&sdk), &config.table).await?;
    ensure_bucket(&s3, &config.avatar_bucket).await?;
    let endpoint = std::env::var("AWS_ENDPOINT_URL").unwrap_or_else(|_| "AWS".into());
    let served = format!("{base}/avatars/");
    let mut describe = vec![
        format!("storage: DynamoDB table {:?} at {endpoint}", config.table),
        "SMS: sent through SNS".to_owned(),
        if base_given {
            format!(
                "avatars: S3 bucket {:?}, URLs under {} (IHOME_AVATAR_BASE_URL); also served at {served}",
                config.avatar_bucket, config.avatar_base_url
            )
        } else {
            format!("avatars: S3 bucket {:?}, served at {served}", config.avatar_bucket)
        },
    ];
    let store = DynamoStore::new(aws_sdk_dynamodb::Client::new(&sdk), config.table.clone());
    let counters = counters(redis, &config, Some(&sdk), store.clone(), &mut describe)?;
    let app = App::new(
        config.clone(),
        store.clone(),
        SnsSender::new(aws_sdk_sns::Client::new(&sdk), config.sms_sender_id.clone()),
        S3Avatars::new(s3.clone(), config.avatar_bucket.clone()),
    )
    .with_limiter(counters);
    let avatars = AvatarFiles::Bucket(AvatarBucket::new(s3, config.avatar_bucket));
    Ok(Chosen { backend: Backend::Aws(app), avatars, describe })
}

async fn ensure_table(client: &aws_sdk_dynamodb::Client, table: &str) -> Result<(), String> {
    if client.describe_table().table_name(table).send().await.is_ok() {
        return Ok(());
    }
    create_table(client, table).await
}

/// Creates the table as `template.yaml` defines it (a test checks they agree): on-demand, string
/// partition key `pk` and nothing else, TTL on `expires_at`.
pub async fn create_table(client: &aws_sdk_dynamodb::Client, table: &str) -> Result<(), String> {
    let attr = AttributeDefinition::builder()
        .attribute_name(PK)
        .attribute_type(ScalarAttributeType::S)
        .build()
        .map_err(|e| e.to_string())?;
    let key =
        KeySchemaElement::builder().attribute_name(PK).key_type(KeyType::Hash).build().map_err(|e| e.to_string())?;
    client
        .create_table()
        .table_name(table)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(attr)
        .key_schema(key)
        .send()
        .await
        .map_err(|e| format!("cannot create table {table}: {}", aws_sdk_dynamodb::error::DisplayErrorContext(&e)))?;
    let ttl =
        TimeToLiveSpecification::builder().attribute_name(TTL).enabled(true).build().map_err(|e| e.to_string())?;
    client
        .update_time_to_live()
        .table_name(table)
        .time_to_live_specification(ttl)
        .send()
        .await
        .map_err(|e| format!("cannot enable TTL on {table}: {}", aws_sdk_dynamodb::error::DisplayErrorContext(&e)))?;
    Ok(())
}

async fn ensure_bucket(client: &aws_sdk_s3::Client, bucket: &str) -> Result<(), String> {
    if client.head_bucket().bucket(bucket).send().await.is_ok() {
        return Ok(());
    }
    client
        .create_bucket()
        .bucket(bucket)
        .send()
        .await
        .map_err(|e| format!("cannot create bucket {bucket}: {}", aws_sdk_s3::error::DisplayErrorContext(&e)))?;
    Ok(())
}
