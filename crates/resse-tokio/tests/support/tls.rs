//! A self-signed certificate for 127.0.0.1, and the rustls configurations
//! of a server that presents it and a client that trusts it.

use std::sync::Arc;

use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

pub struct TestCert {
    pub cert: CertificateDer<'static>,
    key: Vec<u8>,
}

impl TestCert {
    /// A fresh self-signed certificate for `127.0.0.1` and `localhost`.
    pub fn generate() -> Self {
        let key = rcgen::generate_simple_self_signed(vec!["127.0.0.1".into(), "localhost".into()])
            .expect("generate a certificate");
        Self {
            cert: key.cert.der().clone(),
            key: key.signing_key.serialize_der(),
        }
    }

    // ring on purpose, as in the client; rustls 0.23.48 deprecates it.
    #[allow(deprecated)]
    fn provider() -> Arc<rustls::crypto::CryptoProvider> {
        Arc::new(rustls::crypto::ring::default_provider())
    }

    /// A server configuration presenting the certificate, offering h2 and
    /// http/1.1.
    pub fn server_config(&self) -> rustls::ServerConfig {
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.key.clone()));
        let mut config = rustls::ServerConfig::builder_with_provider(Self::provider())
            .with_safe_default_protocol_versions()
            .expect("protocol versions")
            .with_no_client_auth()
            .with_single_cert(vec![self.cert.clone()], key)
            .expect("server certificate");
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        config
    }

    /// A client configuration that trusts only this certificate.
    pub fn client_config(&self) -> rustls::ClientConfig {
        let mut roots = rustls::RootCertStore::empty();
        roots.add(self.cert.clone()).expect("add root");
        rustls::ClientConfig::builder_with_provider(Self::provider())
            .with_safe_default_protocol_versions()
            .expect("protocol versions")
            .with_root_certificates(roots)
            .with_no_client_auth()
    }
}
