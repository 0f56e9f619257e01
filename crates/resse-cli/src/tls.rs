//! TLS for `resse serve`: a rustls server configuration from PEM files or a
//! self-signed certificate, offering HTTP/2 and HTTP/1.1 (ALPN).

use std::fmt::Write as _;
use std::net::IpAddr;
use std::path::Path;
use std::sync::Arc;

use rustls::ServerConfig;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

use crate::error::CliError;

/// A server configuration and what to tell the user about it.
pub(crate) struct Tls {
    /// The configuration, with ALPN `h2` and `http/1.1`.
    pub(crate) config: Arc<ServerConfig>,
    /// Where the certificate comes from, and its SHA-256 fingerprint.
    pub(crate) description: String,
}

/// The configuration for `--tls-cert`/`--tls-key`.
pub(crate) fn from_files(cert: &Path, key: &Path) -> Result<Tls, CliError> {
    let named =
        |path: &Path, e: &dyn std::fmt::Display| CliError::Tls(format!("{}: {e}", path.display()));
    let certs = CertificateDer::pem_file_iter(cert)
        .map_err(|e| named(cert, &e))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| named(cert, &e))?;
    let Some(leaf) = certs.first() else {
        return Err(named(cert, &"no certificate in the file"));
    };
    let fingerprint = fingerprint(leaf);
    let key = PrivateKeyDer::from_pem_file(key).map_err(|e| named(key, &e))?;
    let config = config(certs, key)?;
    Ok(Tls {
        config,
        description: format!(
            "certificate from {} (SHA-256 fingerprint {fingerprint})",
            cert.display()
        ),
    })
}

/// A configuration with a new self-signed certificate for `localhost`,
/// `127.0.0.1`, `::1` and `bind` (when it is none of those or unspecified).
pub(crate) fn self_signed(bind: IpAddr) -> Result<Tls, CliError> {
    let mut names = vec![
        "localhost".to_owned(),
        "127.0.0.1".to_owned(),
        "::1".to_owned(),
    ];
    if !bind.is_loopback() && !bind.is_unspecified() {
        names.push(bind.to_string());
    }
    let generated = rcgen::generate_simple_self_signed(names.clone())
        .map_err(|e| CliError::Tls(format!("generating a certificate: {e}")))?;
    let leaf = generated.cert.der().clone();
    let fingerprint = fingerprint(&leaf);
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(
        generated.signing_key.serialize_der(),
    ));
    let config = config(vec![leaf], key)?;
    Ok(Tls {
        config,
        description: format!(
            "self-signed certificate for {} (SHA-256 fingerprint {fingerprint})",
            names.join(", ")
        ),
    })
}

/// The rustls crypto provider of every TLS configuration of the CLI: ring.
///
/// rustls 0.23.48 deprecates ring's provider because ring has no
/// post-quantum key exchange, pointing to aws-lc-rs, which needs cmake to
/// build; resse stays on ring, so the deprecation is allowed here, and only
/// here. (`allow`, not `expect`: older 0.23 releases do not deprecate it.)
pub(crate) fn crypto_provider() -> Arc<rustls::crypto::CryptoProvider> {
    #[allow(deprecated)]
    let provider = rustls::crypto::ring::default_provider();
    Arc::new(provider)
}

/// A server configuration presenting `certs`, with ALPN `h2` and `http/1.1`.
fn config(
    certs: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
) -> Result<Arc<ServerConfig>, CliError> {
    let mut config = ServerConfig::builder_with_provider(crypto_provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| CliError::Tls(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| CliError::Tls(format!("the certificate and key: {e}")))?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// The SHA-256 fingerprint of a certificate, as colon-separated hex pairs.
fn fingerprint(cert: &CertificateDer<'_>) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, cert.as_ref());
    let mut out = String::with_capacity(95);
    for (i, byte) in digest.as_ref().iter().enumerate() {
        if i > 0 {
            out.push(':');
        }
        let _ = write!(out, "{byte:02X}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints_are_sha256_in_hex_pairs() {
        // SHA-256 of the empty input.
        let empty = fingerprint(&CertificateDer::from(Vec::new()));
        assert_eq!(
            empty,
            "E3:B0:C4:42:98:FC:1C:14:9A:FB:F4:C8:99:6F:B9:24:27:AE:41:E4:64:9B:93:4C:A4:95:99:1B:78:52:B8:55"
        );
    }

    #[test]
    fn self_signed_offers_h2_and_http11() {
        let tls = self_signed("127.0.0.1".parse().unwrap()).unwrap();
        assert_eq!(
            tls.config.alpn_protocols,
            [b"h2".to_vec(), b"http/1.1".to_vec()]
        );
        assert!(tls.description.starts_with(
            "self-signed certificate for localhost, 127.0.0.1, ::1 (SHA-256 fingerprint "
        ));
    }
}
