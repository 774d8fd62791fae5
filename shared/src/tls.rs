//! Whom the functions' TLS connections trust: Amazon Trust Services' roots, which every AWS
//! endpoint's certificate chains to (DynamoDB, SNS, S3, ElastiCache), built into the binary, plus
//! the PEM certificates of the file `SSL_CERT_FILE` names (an emulator behind a private CA: the
//! tests' own). Reading the system's whole certificate store instead (a bundle and some 300 files
//! on Debian) was most of a cold start's own time (`scripts/bench-coldstart.sh`).

use std::sync::{Arc, OnceLock};

use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;

/// Amazon Trust Services' root certificates (PEM).
pub const AMAZON_ROOTS: &[u8] = include_bytes!("../certs/amazon-trust-services.pem");

/// One client configuration per process: building the root store parses certificates.
pub fn client_config() -> Result<Arc<rustls::ClientConfig>, String> {
    static CONFIG: OnceLock<Result<Arc<rustls::ClientConfig>, String>> = OnceLock::new();
    CONFIG.get_or_init(|| build(std::env::var_os("SSL_CERT_FILE").filter(|f| !f.is_empty()))).clone()
}

fn build(cert_file: Option<std::ffi::OsString>) -> Result<Arc<rustls::ClientConfig>, String> {
    let mut roots = rustls::RootCertStore::empty();
    if let Some(file) = cert_file {
        let extra = CertificateDer::pem_file_iter(&file)
            .map_err(|e| format!("SSL_CERT_FILE {}: {e}", file.to_string_lossy()))?
            .filter_map(Result::ok);
        roots.add_parsable_certificates(extra);
    }
    with_amazon_roots(roots)
}

/// Amazon's roots and the PEM certificates of `ca` (a private CA).
pub fn trusting(ca: &[u8]) -> Result<Arc<rustls::ClientConfig>, String> {
    let mut roots = rustls::RootCertStore::empty();
    let (added, _) = roots.add_parsable_certificates(CertificateDer::pem_slice_iter(ca).filter_map(Result::ok));
    if added == 0 {
        return Err("no PEM certificate in the given CA".into());
    }
    with_amazon_roots(roots)
}

fn with_amazon_roots(mut roots: rustls::RootCertStore) -> Result<Arc<rustls::ClientConfig>, String> {
    roots.add_parsable_certificates(CertificateDer::pem_slice_iter(AMAZON_ROOTS).filter_map(Result::ok));
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS set-up: {e}"))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amazons_roots_are_built_in() {
        let pem = String::from_utf8_lossy(AMAZON_ROOTS);
        assert_eq!(pem.matches("-----BEGIN CERTIFICATE-----").count(), 5);
        let config = build(None).expect("a client configuration");
        assert_eq!(config.alpn_protocols.len(), 0);
    }

    #[test]
    fn a_missing_cert_file_is_named() {
        let e = build(Some("/nonexistent/ca.pem".into())).unwrap_err();
        assert!(e.contains("SSL_CERT_FILE /nonexistent/ca.pem"), "{e}");
        assert!(trusting(b"not a certificate").is_err());
    }
}
