//! The default connector through an explicit HTTP proxy on loopback: both
//! `http://` and `https://` through a `CONNECT` tunnel, the proxy's
//! `no_proxy` list, and a close that interrupts a silent proxy.

mod support;

use std::net::TcpListener;
use std::thread;
use std::time::{Duration, Instant};

use resse_blocking::{Client, HttpConnector, Proxy};
use resse_session::SessionEvent;
use resse_testkit::connect_proxy::ConnectProxy;
use resse_testkit::within;
use support::client;
use support::server::TestServer;
use support::tls::TlsServer;

const LIMIT: Duration = Duration::from_secs(20);
const IDLE: Duration = Duration::from_secs(5);

/// The data of the first `n` events.
fn first<C: resse_blocking::Connect + Send + 'static>(client: Client<C>, n: usize) -> Vec<String>
where
    C::Body: Send,
{
    within(LIMIT, move || {
        let mut client = client;
        (0..n)
            .map(|_| client.next_event().expect("no failure").expect("an event"))
            .map(|e| e.data().to_owned())
            .collect()
    })
}

#[test]
fn http_goes_through_a_connect_tunnel_with_the_credentials() {
    let server = TestServer::start();
    server.publish(2);
    let proxy = ConnectProxy::start();
    let client = client(&server.url("/events"), IDLE, 1)
        .proxy(Proxy::new(&proxy.url_with_credentials("user", "pw")).unwrap())
        .build()
        .unwrap();
    assert_eq!(first(client, 2), ["event 1", "event 2"]);
    let seen = proxy.seen();
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert_eq!(
        seen[0].request_line,
        format!("CONNECT {} HTTP/1.1", server.addr())
    );
    // base64("user:pw")
    assert_eq!(seen[0].authorization.as_deref(), Some("Basic dXNlcjpwdw=="));
    assert_eq!(server.hits().len(), 1);
}

#[test]
fn https_goes_through_a_connect_tunnel() {
    let server = TlsServer::start();
    let proxy = ConnectProxy::start();
    let connector = HttpConnector::with_root_certificates([server.cert.as_ref()])
        .proxy(Proxy::new(&proxy.url()).unwrap());
    let client = client(&server.url(), IDLE, 2)
        .build_with(connector)
        .unwrap();
    assert_eq!(first(client, 2), ["one", "two"]);
    let seen = proxy.seen();
    assert_eq!(
        seen[0].request_line,
        format!("CONNECT {} HTTP/1.1", server.addr)
    );
    assert_eq!(seen[0].authorization, None);
    assert!(server.requests() >= 1);
}

#[test]
fn hosts_on_the_no_proxy_list_are_reached_directly() {
    let server = TestServer::start();
    server.publish(2);
    let proxy = ConnectProxy::start();
    let client = client(&server.url("/events"), IDLE, 3)
        .proxy(
            Proxy::new(&proxy.url())
                .unwrap()
                .no_proxy("example.com, 127.0.0.0/8"),
        )
        .build()
        .unwrap();
    assert_eq!(first(client, 2), ["event 1", "event 2"]);
    assert!(proxy.seen().is_empty(), "{:?}", proxy.seen());
    assert_eq!(server.hits().len(), 1);
}

#[test]
fn close_interrupts_a_proxy_that_never_answers() {
    // Accepts, reads nothing, answers nothing.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    thread::spawn(move || {
        let mut open = Vec::new();
        for conn in listener.incoming().flatten() {
            open.push(conn);
        }
    });
    let mut client = client("http://127.0.0.1:9/events", Duration::from_secs(30), 4)
        .connect_timeout(Duration::from_secs(30))
        .proxy(Proxy::new(&format!("http://{addr}")).unwrap())
        .build()
        .unwrap();
    let close = client.close_handle();
    let closer = thread::spawn(move || {
        thread::sleep(Duration::from_millis(200));
        close.close();
    });
    let started = Instant::now();
    let last = within(LIMIT, move || {
        let mut last = None;
        while let Some(event) = client.next_session_event() {
            last = Some(event);
        }
        last
    });
    closer.join().unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "closed in {:?}",
        started.elapsed()
    );
    assert!(
        matches!(last, Some(SessionEvent::Closed { .. })),
        "{last:?}"
    );
}
