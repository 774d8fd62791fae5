//! The AWS SDK settings of a Lambda function, read from the environment Lambda sets.
//!
//! Lambda hands a function its region and its role's credentials as environment variables, so
//! the functions need none of aws-config's provider chain (profiles, SSO, STS web identity,
//! credential processes, IMDS): leaving it out keeps those clients out of every binary and makes
//! the cold start a few reads of the environment. The SDK's standard endpoint overrides
//! (`AWS_ENDPOINT_URL`, `AWS_ENDPOINT_URL_<SERVICE>`) are honoured, for emulators.
//!
//! TLS trusts Amazon Trust Services' roots, which every AWS endpoint's certificate chains to,
//! built into the binary: the SDK's default reads the system's whole certificate store when it
//! first connects (on Debian, a bundle and some 300 files: most of a cold start's own time, in
//! `scripts/bench-coldstart.sh`). `SSL_CERT_FILE` or `SSL_CERT_DIR`, when set, select the system
//! store instead, which reads them: an emulator behind a private CA.

use aws_credential_types::Credentials;
use aws_credential_types::provider::SharedCredentialsProvider;
use aws_sdk_dynamodb::config::BehaviorVersion;
use aws_smithy_http_client::tls::{self, TlsContext, TrustStore};
use aws_types::SdkConfig;
use aws_types::region::Region;

use crate::config::ConfigError;

/// Region, credentials and the global endpoint override from the environment.
pub fn sdk_config() -> Result<SdkConfig, ConfigError> {
    sdk_config_from(|name| std::env::var(name).ok())
}

pub fn sdk_config_from(lookup: impl Fn(&str) -> Option<String>) -> Result<SdkConfig, ConfigError> {
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
    let system_store = get("SSL_CERT_FILE").is_some() || get("SSL_CERT_DIR").is_some();
    let mut builder = SdkConfig::builder()
        .http_client(https_client(system_store)?)
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(region))
        .credentials_provider(SharedCredentialsProvider::new(credentials));
    if let Some(url) = get("AWS_ENDPOINT_URL") {
        builder = builder.endpoint_url(url);
    }
    Ok(builder.build())
}

/// Amazon Trust Services' root certificates (PEM).
pub const AMAZON_ROOTS: &[u8] = include_bytes!("../certs/amazon-trust-services.pem");

/// The SDK's HTTPS client (hyper, rustls on AWS-LC), trusting Amazon's roots or the system store.
fn https_client(system_store: bool) -> Result<aws_sdk_dynamodb::config::SharedHttpClient, ConfigError> {
    let trust = if system_store {
        TrustStore::default()
    } else {
        TrustStore::empty().with_native_roots(false).with_pem_certificate(AMAZON_ROOTS)
    };
    let context = TlsContext::builder().with_trust_store(trust).build().map_err(|_| ConfigError {
        name: "SSL_CERT_FILE",
        value: String::new(),
        why: "no usable TLS trust store",
    })?;
    Ok(aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(tls::rustls_provider::CryptoMode::AwsLc))
        .tls_context(context)
        .build_https())
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
        let sdk = sdk_config_from(env).unwrap();
        assert_eq!(sdk.region().map(|r| r.as_ref()), Some("ap-southeast-1"));
        assert_eq!(sdk.endpoint_url(), Some("http://127.0.0.1:5000"));
        assert!(sdk.credentials_provider().is_some());
    }

    #[test]
    fn amazons_roots_are_built_in() {
        let pem = String::from_utf8_lossy(AMAZON_ROOTS);
        assert_eq!(pem.matches("-----BEGIN CERTIFICATE-----").count(), 5);
        assert!(https_client(false).is_ok() && https_client(true).is_ok());
    }

    #[test]
    fn missing_credentials_name_the_variable() {
        let env = |name: &str| (name == "AWS_REGION").then(|| "us-east-1".to_owned());
        assert_eq!(sdk_config_from(env).unwrap_err().name, "AWS_ACCESS_KEY_ID");
        assert_eq!(sdk_config_from(|_| None).unwrap_err().name, "AWS_REGION");
    }
}
