//! Finding a cache's endpoint from its name (`IHOME_CACHE_NAME`) with the ElastiCache API: a
//! serverless cache first, else a replication group (its configuration endpoint in cluster mode,
//! else its primary). Runs once per cold start, in parallel with the rest of init.

use aws_sdk_elasticache::Client;
use aws_sdk_elasticache::types::Endpoint;
use aws_types::SdkConfig;

use super::CacheEndpoint;

/// An ElastiCache client honouring `AWS_ENDPOINT_URL_ELASTICACHE` (an emulator).
pub fn client(sdk: &SdkConfig) -> Client {
    let mut config = aws_sdk_elasticache::config::Builder::from(sdk);
    if let Some(url) = crate::aws_env::service_endpoint("ELASTICACHE") {
        config = config.endpoint_url(url);
    }
    Client::from_conf(config.build())
}

/// The endpoint of the serverless cache or replication group called `name`.
pub async fn find(client: &Client, name: &str) -> Result<CacheEndpoint, String> {
    let serverless = match client.describe_serverless_caches().serverless_cache_name(name).send().await {
        Ok(out) => match out.serverless_caches().first().and_then(|c| c.endpoint()) {
            // Serverless caches are served over TLS only.
            Some(e) => return endpoint(e, true).ok_or_else(|| format!("serverless cache {name:?} has no address yet")),
            None => format!("no serverless cache {name:?}"),
        },
        Err(e) => format!("DescribeServerlessCaches: {}", aws_sdk_elasticache::error::DisplayErrorContext(e)),
    };
    let out = client.describe_replication_groups().replication_group_id(name).send().await.map_err(|e| {
        format!("{serverless}; DescribeReplicationGroups: {}", aws_sdk_elasticache::error::DisplayErrorContext(e))
    })?;
    let group =
        out.replication_groups().first().ok_or_else(|| format!("{serverless}; no replication group {name:?}"))?;
    let tls = group.transit_encryption_enabled().unwrap_or(false);
    group
        .configuration_endpoint()
        .or_else(|| group.node_groups().first().and_then(|g| g.primary_endpoint()))
        .and_then(|e| endpoint(e, tls))
        .ok_or_else(|| format!("replication group {name:?} has no endpoint yet"))
}

fn endpoint(e: &Endpoint, tls: bool) -> Option<CacheEndpoint> {
    let host = e.address().filter(|a| !a.is_empty())?;
    let port = u16::try_from(e.port().unwrap_or(6379)).ok()?;
    Some(CacheEndpoint::new(host, port, tls))
}
