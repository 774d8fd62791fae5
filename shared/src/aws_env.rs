//! The AWS SDK settings of a Lambda function, read from the environment Lambda sets.
//!
//! Lambda hands a function its region and its role's credentials as environment variables, so
//! the functions need none of aws-config's provider chain (profiles, SSO, STS web identity,
//! credential processes, IMDS): leaving it out keeps those clients out of every binary and makes
//! the cold start a few reads of the environment. The SDK's standard endpoint overrides
//! (`AWS_ENDPOINT_URL`, `AWS_ENDPOINT_URL_<SERVICE>`) are honoured, for emulators.
//!
//! Every client sends through one [`HttpClient`] (`crate::http_client`), which trusts
//! `crate::tls`'s roots and can open a connection during init.

use aws_credential_types::Credentials;
use aws_credential_types::provider::SharedCredentialsProvider;
use aws_sdk_dynamodb::config::BehaviorVersion;
use aws_types::SdkConfig;
use aws_types::region::Region;

use crate::config::ConfigError;
use crate::http_client::HttpClient;

/// Region, credentials and the global endpoint override from the environment, and the HTTP
/// client every SDK client of the function sends through.
pub fn sdk_config() -> Result<(SdkConfig, HttpClient), ConfigError> {
    let tls = crate::tls::client_config().map_err(|value| ConfigError {
        name: "SSL_CERT_FILE",
        value,
        why: "must name a readable file of PEM certificates",
    })?;
    let http = HttpClient::new(&tls);
    Ok((sdk_config_from(|name| std::env::var(name).ok(), &http)?, http))
}

pub fn sdk_config_from(lookup: impl Fn(&str) -> Option<String>, http: &HttpClient) -> Result<SdkConfig, ConfigError> {
    let get = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
    let required = |name: &'static str| {
        get(name).ok_or(ConfigError { name, value: String::new(), why: "must be set (Lambda sets it)" })
    };
    let region = get("AWS_REGION").or_else(|| get("AWS_DEFAULT_REGION")).ok_or(ConfigError {
        name: "AWS_REGION",
        value: String::new(),
        why: "must be set (Lambda sets it)",
    })?;
    let credentials = Credentials::new(
        required("AWS_ACCESS_KEY_ID")?,
        required("AWS_SECRET_ACCESS_KEY")?,
        get("AWS_SESSION_TOKEN"),
        None,
        "lambda-environment",
    );
    let mut builder = SdkConfig::builder()
        .http_client(http.shared())
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(region))
        .credentials_provider(SharedCredentialsProvider::new(credentials));
    if let Some(url) = get("AWS_ENDPOINT_URL") {
        builder = builder.endpoint_url(url);
    }
    Ok(builder.build())
}

/// `AWS_ENDPOINT_URL_<SERVICE>` (e.g. `DYNAMODB`), which wins over `AWS_ENDPOINT_URL`.
pub fn service_endpoint(service: &str) -> Option<String> {
    std::env::var(format!("AWS_ENDPOINT_URL_{service}")).ok().filter(|v| !v.trim().is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_lambdas_variables() {
        let env = |name: &str| match name {
            "AWS_REGION" => Some("ap-southeast-1".to_owned()),
            "AWS_ACCESS_KEY_ID" => Some("AKID".to_owned()),
            "AWS_SECRET_ACCESS_KEY" => Some("secret".to_owned()),
            "AWS_ENDPOINT_URL" => Some("http://127.0.0.1:5000".to_owned()),
            _ => None,
        };
        let sdk = sdk_config_from(env, &http()).unwrap();
        assert_eq!(sdk.region().map(|r| r.as_ref()), Some("ap-southeast-1"));
        assert_eq!(sdk.endpoint_url(), Some("http://127.0.0.1:5000"));
        assert!(sdk.credentials_provider().is_some());
    }

    fn http() -> HttpClient {
        HttpClient::new(&crate::tls::client_config().unwrap())
    }

    #[test]
    fn missing_credentials_name_the_variable() {
        let env = |name: &str| (name == "AWS_REGION").then(|| "us-east-1".to_owned());
        assert_eq!(sdk_config_from(env, &http()).unwrap_err().name, "AWS_ACCESS_KEY_ID");
        assert_eq!(sdk_config_from(|_| None, &http()).unwrap_err().name, "AWS_REGION");
    }
}
