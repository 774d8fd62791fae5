//! Whom the functions' TLS connections trust: Amazon Trust Services' roots, which every AWS
//! endpoint's certificate chains to (DynamoDB, SNS, S3, ElastiCache), built into the binary, plus
//! the PEM certificates of the file `SSL_CERT_FILE` names (an emulator behind a private CA: the
//! tests' own). Reading the system's whole certificate store instead (a bundle and some 300 files
//! on Debian) was most of a cold start's own time (`scripts/bench-coldstart.sh`).
//!
//! The roots are built in as trust anchors (subject and public key, what verification uses), not
//! as certificates: decoding the PEM and parsing five certificates at every cold start took about
//! 4 % of a function's whole start-up (`tls/amazon_anchors.rs`, checked against the PEM by a test).

use std::sync::{Arc, OnceLock};

use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;

mod amazon_anchors;

/// Amazon Trust Services' root certificates (PEM), which `amazon_anchors` is made from.
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
    roots.extend(amazon_anchors::ANCHORS.iter().cloned());
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

    /// The built-in anchors are exactly those of the PEM's certificates. When the PEM changes,
    /// this prints the new `tls/amazon_anchors.rs`.
    #[test]
    fn the_built_in_anchors_are_amazons_roots() {
        let mut parsed = rustls::RootCertStore::empty();
        let (added, failed) =
            parsed.add_parsable_certificates(CertificateDer::pem_slice_iter(AMAZON_ROOTS).filter_map(Result::ok));
        assert_eq!((added, failed), (5, 0));
        assert!(
            parsed.roots == amazon_anchors::ANCHORS,
            "regenerate shared/src/tls/amazon_anchors.rs:\n{}",
            source(&parsed)
        );
    }

    fn source(store: &rustls::RootCertStore) -> String {
        let bytes = |b: &[u8]| b.iter().map(|x| format!("\\x{x:02x}")).collect::<String>();
        let mut out = String::from(HEADER);
        for anchor in &store.roots {
            out += &format!(
                "    TrustAnchor {{\n        subject: Der::from_slice(b\"{}\"),\n        subject_public_key_info: Der::from_slice(b\"{}\"),\n        name_constraints: None,\n    }},\n",
                bytes(&anchor.subject),
                bytes(&anchor.subject_public_key_info)
            );
            assert!(anchor.name_constraints.is_none());
        }
        out + "];\n"
    }

    const HEADER: &str = "//! Generated from `shared/certs/amazon-trust-services.pem` by the test
//! `tls::tests::the_built_in_anchors_are_amazons_roots`, which checks it: Amazon Trust Services'
//! root CAs 1-4 and Starfield Services Root CA - G2, as trust anchors (subject, public key).

use rustls::pki_types::{Der, TrustAnchor};

pub(super) const ANCHORS: &[TrustAnchor<'static>] = &[
";

    #[test]
    fn a_missing_cert_file_is_named() {
        let e = build(Some("/nonexistent/ca.pem".into())).unwrap_err();
        assert!(e.contains("SSL_CERT_FILE /nonexistent/ca.pem"), "{e}");
        assert!(trusting(b"not a certificate").is_err());
    }
}
