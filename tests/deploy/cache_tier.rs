//! The cache tier in a real function: `image-code`'s arm64 artifact with `IHOME_CACHE_ENDPOINT`
//! set opens its Redis connection during init and counts its captcha budget there, as the stack
//! runs it with `CacheTier=on` (template.yaml passes the endpoint; no look-up).

use std::time::Duration;

use ihome::cache::{CacheEndpoint, RedisCounters};
use ihome::config::Limits;
use ihome::domain::ClientIp;
use ihome::limits::{Budget, Counter, Limiter, Subject};
use ihome_tests::runtime_api::Outcome;
use serde_json::Value;

use crate::{files, replay};

#[tokio::test]
async fn image_code_counts_its_budget_in_the_cache() {
    let redis_url = std::env::var("IHOME_TEST_REDIS_URL").expect("IHOME_TEST_REDIS_URL: run through scripts/test.sh");
    let table = ihome_tests::unique("cache-tier");
    let dynamo = aws_sdk_dynamodb::Client::new(&ihome_tests::sdk_config().await);
    ihome_tests::create_table(&dynamo, &table).await;

    let env: Vec<(String, String)> = [
        ("AWS_REGION", "us-east-1".to_owned()),
        ("AWS_ACCESS_KEY_ID", "test".to_owned()),
        ("AWS_SECRET_ACCESS_KEY", "test".to_owned()),
        ("AWS_ENDPOINT_URL", ihome_tests::moto_endpoint()),
        ("IHOME_TABLE", table.clone()),
        ("IHOME_CACHE_ENDPOINT", redis_url.clone()),
        ("IHOME_LIMIT_CAPTCHA_PER_IP", "2".to_owned()),
        ("AWS_LAMBDA_LOG_FORMAT", "JSON".to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    // All three in one captcha window (a minute): start early in one, so none turns between them.
    let into_window = time_now().rem_euclid(60);
    if into_window > 30 {
        tokio::time::sleep(Duration::from_secs((61 - into_window) as u64)).await;
    }
    let mut function = replay::spawn_artifact("image-code", &env).await;

    let event: Value = serde_json::from_str(&files::read("events/image-code.json")).expect("events/image-code.json");
    let mut statuses = Vec::new();
    for _ in 0..3 {
        match function.invoke(&event, Duration::from_secs(60)).await {
            Ok(Outcome::Response(resp)) => statuses.push((resp["statusCode"].clone(), resp["body"].clone())),
            other => panic!("image-code failed: {other:?}\n{}", function.output().join("\n")),
        }
    }
    let logs = function.stop().await.join("\n");
    assert_eq!(statuses[0].0, 200, "{statuses:?}");
    assert_eq!(statuses[1].0, 200, "{statuses:?}");
    assert!(statuses[2].1.as_str().unwrap_or_default().contains("4202"), "the third is refused: {statuses:?}");

    // The count is in Redis, under the stack's key prefix; the table holds none.
    let ip = event["requestContext"]["http"]["sourceIp"].as_str().expect("sourceIp");
    let counter = Counter::new(Budget::CaptchaPerIp, Subject::Ip(ClientIp::parse(ip)), &Limits::default());
    let now = time_now();
    let cache = RedisCounters::new(CacheEndpoint::parse(&redis_url).expect("url"), &table);
    let store = ihome::store::DynamoStore::new(dynamo, table);
    assert_eq!(cache.used(&counter, now).await.unwrap(), 2, "counted in Redis\n{logs}");
    assert_eq!(store.used(&counter, now).await.unwrap(), 0, "nothing counted in the table");
    assert!(!logs.contains("cache unavailable"), "{logs}");
}

fn time_now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
}
