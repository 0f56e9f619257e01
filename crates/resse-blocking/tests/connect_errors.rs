//! A connection that cannot be opened is reported in words: the cause and
//! the address, with the underlying error as the source. Loopback only.

mod support;

use std::error::Error;
use std::net::TcpListener;
use std::thread;
use std::time::Duration;

use resse_blocking::{Client, ClientBuilder, Connect, ConnectError, ConnectErrorKind, Proxy};
use resse_testkit::connect_proxy::ConnectProxy;
use resse_testkit::{fast_reconnect, within};
use support::tls::TlsServer;

const LIMIT: Duration = Duration::from_secs(20);

/// A client that gives up after one failed attempt, without proxy lookup
/// in the environment.
fn one_attempt(url: &str) -> ClientBuilder {
    ClientBuilder::new(url)
        .reconnect(fast_reconnect(1).max_attempts(Some(1)))
        .seed(1)
        .idle_timeout(Some(Duration::from_secs(10)))
        .connect_timeout(Duration::from_secs(5))
        .proxy_from_env(false)
}

/// Runs the client to its end; its last error must carry a
/// [`ConnectError`] and have a source. Returns it and the error's text.
fn failure<C: Connect + Send + 'static>(mut client: Client<C>) -> (ConnectError, String)
where
    C::Body: Send,
{
    within(LIMIT, move || {
        while client.next_session_event().is_some() {}
        let error = client.last_error().expect("the failure is kept");
        assert!(error.source().is_some(), "{error:?}");
        let connect = error
            .get_ref()
            .and_then(|e| e.downcast_ref::<ConnectError>())
            .unwrap_or_else(|| panic!("not a ConnectError: {error:?}"));
        assert!(connect.source().is_some());
        eprintln!("{error}");
        (connect.clone(), error.to_string())
    })
}

/// A port on 127.0.0.1 that nothing listens on.
fn closed_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// A listener that accepts and never says a word.
fn silent() -> std::net::SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    thread::spawn(move || {
        let mut open = Vec::new();
        for conn in listener.incoming().flatten() {
            open.push(conn);
        }
    });
    addr
}

#[test]
fn a_refused_connection_names_the_address() {
    let port = closed_port();
    let (e, text) = failure(
        one_attempt(&format!("http://127.0.0.1:{port}/events"))
            .build()
            .unwrap(),
    );
    assert_eq!(e.kind(), ConnectErrorKind::Refused);
    assert!(
        text.starts_with(&format!("connection refused by 127.0.0.1:{port}")),
        "{text}"
    );
}

#[test]
fn a_host_that_does_not_resolve_is_named() {
    // RFC 6761: `.invalid` never resolves.
    let (e, text) = failure(one_attempt("http://nosuch.invalid/events").build().unwrap());
    assert_eq!(e.kind(), ConnectErrorKind::Dns);
    assert!(
        text.starts_with("could not resolve host nosuch.invalid: "),
        "{text}"
    );
}

#[test]
fn an_untrusted_certificate_names_the_address_and_the_reason() {
    let server = TlsServer::start();
    // The default roots (Mozilla's) do not trust a self-signed certificate.
    let (e, text) = failure(one_attempt(&server.url()).build().unwrap());
    assert_eq!(e.kind(), ConnectErrorKind::Tls);
    assert_eq!(
        text,
        format!(
            "TLS handshake with {} failed: invalid peer certificate: UnknownIssuer",
            server.addr
        )
    );
    assert_eq!(server.requests(), 0);
}

#[test]
fn a_handshake_that_never_ends_times_out_at_the_connect_timeout() {
    let addr = silent();
    let (e, text) = failure(
        one_attempt(&format!("https://{addr}/events"))
            .connect_timeout(Duration::from_millis(300))
            .build()
            .unwrap(),
    );
    assert_eq!(e.kind(), ConnectErrorKind::Timeout);
    assert_eq!(text, format!("connect to {addr} timed out after 300ms"));
}

#[test]
fn a_refusing_proxy_is_named_as_the_proxy() {
    let port = closed_port();
    let (e, text) = failure(
        one_attempt("http://127.0.0.1:9/events")
            .proxy(Proxy::new(&format!("http://127.0.0.1:{port}")).unwrap())
            .build()
            .unwrap(),
    );
    assert_eq!(e.kind(), ConnectErrorKind::Refused);
    assert_eq!(e.proxy(), Some(format!("127.0.0.1:{port}").as_str()));
    assert!(
        text.starts_with(&format!("proxy 127.0.0.1:{port} refused the connection")),
        "{text}"
    );
}

#[test]
fn a_proxy_that_never_answers_connect_times_out_through_it() {
    let proxy = silent();
    let (e, text) = failure(
        one_attempt("http://127.0.0.1:9/events")
            .connect_timeout(Duration::from_millis(300))
            .proxy(Proxy::new(&format!("http://{proxy}")).unwrap())
            .build()
            .unwrap(),
    );
    assert_eq!(e.kind(), ConnectErrorKind::Timeout);
    assert_eq!(
        text,
        format!("connect to 127.0.0.1:9 through proxy {proxy} timed out after 300ms")
    );
}

#[test]
fn a_proxy_that_wants_credentials_says_so() {
    let server = TlsServer::start();
    let proxy = ConnectProxy::start_requiring("Basic dXNlcjpwdw==");
    let (e, text) = failure(
        one_attempt(&server.url())
            .proxy(Proxy::new(&proxy.url()).unwrap())
            .build()
            .unwrap(),
    );
    assert_eq!(e.kind(), ConnectErrorKind::Proxy);
    assert!(
        text.starts_with(&format!(
            "proxy {} did not open a tunnel to {}: ",
            proxy.addr, server.addr
        )),
        "{text}"
    );
    assert!(
        text.ends_with(
            "it answered 407 Proxy Authentication Required (give the proxy's credentials in \
             its URL: http://user:password@host:port)"
        ),
        "{text}"
    );
    assert_eq!(server.requests(), 0);
}
