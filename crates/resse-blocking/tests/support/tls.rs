//! A TLS event-stream server on 127.0.0.1 with a self-signed certificate
//! (rcgen, ring): two events (`id: 1`/`data: one`, `id: 2`/`data: two`)
//! for a new client, 204 for one that resumes.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::Duration;

use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::{ServerConfig, ServerConnection, StreamOwned};

pub struct TlsServer {
    pub addr: SocketAddr,
    /// The certificate (DER), for a client that trusts it.
    pub cert: CertificateDer<'static>,
    requests: Arc<AtomicUsize>,
}

impl TlsServer {
    pub fn start() -> Self {
        let certified = rcgen::generate_simple_self_signed(["127.0.0.1".to_owned()])
            .expect("self-signed certificate");
        let cert = certified.cert.der().clone();
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(
            certified.signing_key.serialize_der(),
        ));
        // ring on purpose, as in the client; rustls 0.23.48 deprecates it.
        #[allow(deprecated)]
        let provider = rustls::crypto::ring::default_provider();
        let config = ServerConfig::builder_with_provider(Arc::new(provider))
            .with_safe_default_protocol_versions()
            .expect("protocol versions")
            .with_no_client_auth()
            .with_single_cert(vec![cert.clone()], key)
            .expect("server certificate");
        let config = Arc::new(config);
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind TLS server");
        let addr = listener.local_addr().expect("local addr");
        let requests = Arc::new(AtomicUsize::new(0));
        let counted = Arc::clone(&requests);
        thread::spawn(move || {
            for tcp in listener.incoming() {
                let Ok(tcp) = tcp else { continue };
                let (config, counted) = (Arc::clone(&config), Arc::clone(&counted));
                thread::spawn(move || {
                    let _ = serve(config, tcp, &counted);
                });
            }
        });
        Self {
            addr,
            cert,
            requests,
        }
    }

    pub fn url(&self) -> String {
        format!("https://{}/events", self.addr)
    }

    /// How many requests got through the handshake.
    pub fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }
}

fn serve(config: Arc<ServerConfig>, tcp: TcpStream, requests: &AtomicUsize) -> std::io::Result<()> {
    tcp.set_read_timeout(Some(Duration::from_secs(5)))?;
    let conn = ServerConnection::new(config).map_err(std::io::Error::other)?;
    let mut tls = StreamOwned::new(conn, tcp);
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if tls.read(&mut byte)? == 0 {
            return Ok(());
        }
        head.push(byte[0]);
    }
    requests.fetch_add(1, Ordering::SeqCst);
    let head = String::from_utf8_lossy(&head).to_ascii_lowercase();
    if head.contains("\r\nlast-event-id:") {
        tls.write_all(b"HTTP/1.1 204 No Content\r\ncontent-length: 0\r\n\r\n")?;
    } else {
        tls.write_all(
            b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n\r\n\
              id: 1\ndata: one\n\nid: 2\ndata: two\n\n",
        )?;
    }
    tls.conn.send_close_notify();
    tls.flush()?;
    tls.sock.shutdown(Shutdown::Both)
}
