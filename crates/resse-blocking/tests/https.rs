//! The default connector over TLS: a rustls server with a self-signed
//! certificate for 127.0.0.1 on a loopback port.

mod support;

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use resse_blocking::{ClientBuilder, HttpConnector};
use resse_session::{Cause, CloseReason, SessionEvent, StopReason};
use resse_testkit::{fast_reconnect, within};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::{ServerConfig, ServerConnection, StreamOwned};

/// How one connection ends after its events.
#[derive(Clone, Copy, Debug)]
enum End {
    /// `close_notify`, then close the socket.
    Close,
    /// Send nothing more and keep the connection until the client leaves.
    Stall,
}

/// A TLS server: connection `i` sends events `plan[i].0` (`id: n`,
/// `data: event n`) and ends as `plan[i].1`; connections past the plan get
/// a 204. It records the `Last-Event-ID` of each request.
struct TlsServer {
    addr: SocketAddr,
    cert: CertificateDer<'static>,
    last_event_ids: Arc<Mutex<Vec<Option<String>>>>,
}

impl TlsServer {
    fn start(plan: Vec<(std::ops::RangeInclusive<u64>, End)>) -> Self {
        let certified = rcgen::generate_simple_self_signed(["127.0.0.1".to_owned()])
            .expect("self-signed certificate");
        let cert = certified.cert.der().clone();
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(
            certified.signing_key.serialize_der(),
        ));
        // ring on purpose, as in ureq's connector; rustls 0.23.48 deprecates it.
        #[allow(deprecated)]
        let config =
            ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
                .with_safe_default_protocol_versions()
                .expect("protocol versions")
                .with_no_client_auth()
                .with_single_cert(vec![cert.clone()], key)
                .expect("server certificate");
        let config = Arc::new(config);
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind TLS server");
        let addr = listener.local_addr().expect("local addr");
        let last_event_ids = Arc::new(Mutex::new(Vec::new()));
        let ids = Arc::clone(&last_event_ids);
        thread::spawn(move || {
            for (i, tcp) in listener.incoming().enumerate() {
                let Ok(tcp) = tcp else { continue };
                let step = plan.get(i).cloned();
                let (config, ids) = (Arc::clone(&config), Arc::clone(&ids));
                thread::spawn(move || {
                    let _ = serve(config, tcp, step, &ids);
                });
            }
        });
        Self {
            addr,
            cert,
            last_event_ids,
        }
    }

    fn url(&self) -> String {
        format!("https://{}/events", self.addr)
    }

    fn last_event_ids(&self) -> Vec<Option<String>> {
        self.last_event_ids.lock().unwrap().clone()
    }
}

fn serve(
    config: Arc<ServerConfig>,
    tcp: TcpStream,
    step: Option<(std::ops::RangeInclusive<u64>, End)>,
    ids: &Mutex<Vec<Option<String>>>,
) -> std::io::Result<()> {
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
    let head = String::from_utf8_lossy(&head).into_owned();
    ids.lock().unwrap().push(head.lines().find_map(|l| {
        let (name, value) = l.split_once(':')?;
        name.eq_ignore_ascii_case("last-event-id")
            .then(|| value.trim().to_owned())
    }));
    let Some((events, end)) = step else {
        tls.write_all(b"HTTP/1.1 204 No Content\r\ncontent-length: 0\r\n\r\n")?;
        return tls.flush();
    };
    let mut out = b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n\r\n".to_vec();
    for id in events {
        out.extend_from_slice(format!("id: {id}\ndata: event {id}\n\n").as_bytes());
    }
    tls.write_all(&out)?;
    tls.flush()?;
    match end {
        End::Close => {
            tls.conn.send_close_notify();
            tls.flush()?;
            tls.sock.shutdown(Shutdown::Both)
        }
        End::Stall => {
            // Until the client hangs up (or the read timeout).
            while tls.read(&mut byte)? > 0 {}
            Ok(())
        }
    }
}

/// Runs `client` until it is closed, returning the ids of its events and
/// the causes of its reconnections.
fn run(mut client: resse_blocking::Client) -> (Vec<String>, Vec<Cause>, Option<SessionEvent>) {
    let (mut ids, mut causes, mut last) = (Vec::new(), Vec::new(), None);
    while let Some(event) = client.next_session_event() {
        match &event {
            SessionEvent::Event(e) => ids.push(e.last_event_id().to_owned()),
            SessionEvent::Reconnecting { cause, .. } => causes.push(*cause),
            _ => {}
        }
        last = Some(event);
    }
    (ids, causes, last)
}

#[test]
fn https_stream_delivers_events_and_resumes_with_last_event_id() {
    let (ids, causes, last, seen) = within(Duration::from_secs(10), || {
        let server = TlsServer::start(vec![(1..=3, End::Close), (4..=5, End::Close)]);
        let client = ClientBuilder::new(server.url())
            .reconnect(fast_reconnect(11))
            .seed(11)
            .idle_timeout(Some(Duration::from_secs(5)))
            .build_with(HttpConnector::with_root_certificates([&server.cert]))
            .unwrap();
        let (ids, causes, last) = run(client);
        (ids, causes, last, server.last_event_ids())
    });
    assert_eq!(ids, ["1", "2", "3", "4", "5"]);
    assert_eq!(causes, [Cause::EndOfBodyClean, Cause::EndOfBodyClean]);
    // The third connection got the 204 that ends the stream.
    assert!(matches!(
        last,
        Some(SessionEvent::Closed {
            reason: CloseReason::Policy(StopReason::ServerStop(_))
        })
    ));
    assert_eq!(
        seen,
        [None, Some("3".to_owned()), Some("5".to_owned())],
        "Last-Event-ID of each request"
    );
}

#[test]
fn silent_https_stream_is_dropped_after_the_idle_timeout() {
    const IDLE: Duration = Duration::from_millis(200);
    let (ids, causes, took, seen) = within(Duration::from_secs(10), || {
        let server = TlsServer::start(vec![(1..=2, End::Stall), (3..=3, End::Close)]);
        let client = ClientBuilder::new(server.url())
            .reconnect(fast_reconnect(12))
            .seed(12)
            .idle_timeout(Some(IDLE))
            .build_with(HttpConnector::with_root_certificates([&server.cert]))
            .unwrap();
        let started = Instant::now();
        let (ids, causes, _) = run(client);
        (ids, causes, started.elapsed(), server.last_event_ids())
    });
    assert_eq!(ids, ["1", "2", "3"]);
    assert_eq!(causes, [Cause::IdleTimeout, Cause::EndOfBodyClean]);
    assert!(took >= IDLE, "dropped before the idle timeout: {took:?}");
    assert!(took < IDLE * 4, "idle detection too late: {took:?}");
    assert_eq!(seen[1].as_deref(), Some("2"));
}

#[test]
fn close_interrupts_a_blocked_https_read() {
    let (took, last) = within(Duration::from_secs(5), || {
        let server = TlsServer::start(vec![(1..=1, End::Stall)]);
        let mut client = ClientBuilder::new(server.url())
            .idle_timeout(None)
            .build_with(HttpConnector::with_root_certificates([&server.cert]))
            .unwrap();
        let handle = client.close_handle();
        // The first event is in: the client then blocks on a silent read.
        let first = client.next_event().unwrap().map(|e| e.data().to_owned());
        assert_eq!(first.as_deref(), Some("event 1"));
        let runner =
            thread::spawn(move || std::iter::from_fn(|| client.next_session_event()).last());
        thread::sleep(Duration::from_millis(100));
        let closed_at = Instant::now();
        handle.close();
        let last = runner.join().unwrap();
        (closed_at.elapsed(), last)
    });
    assert!(took < Duration::from_millis(500), "close took {took:?}");
    assert_eq!(
        last,
        Some(SessionEvent::Closed {
            reason: CloseReason::Requested
        })
    );
}

#[test]
fn untrusted_certificate_fails_with_a_readable_error() {
    let (items, error) = within(Duration::from_secs(10), || {
        let server = TlsServer::start(vec![(1..=1, End::Close)]);
        // The default roots (webpki) do not know the self-signed
        // certificate.
        let mut client = ClientBuilder::new(server.url())
            .reconnect(fast_reconnect(13).max_attempts(Some(2)))
            .seed(13)
            .build()
            .unwrap();
        let result = client.next_event();
        let error = client.last_error().map(ToString::to_string);
        (result, error)
    });
    assert!(
        matches!(
            items,
            Err(CloseReason::Policy(StopReason::AttemptLimit { .. }))
        ),
        "{items:?}"
    );
    let error = error.expect("the connection error is kept");
    assert!(
        error.contains("certificate") && error.contains("UnknownIssuer"),
        "{error}"
    );
}
