//! The last event id survives reconnections, is never taken from a block the
//! connection cut off, and events of a new connection inherit it.

mod support;

use resse_session::{Cause, LAST_EVENT_ID, SessionConfig, SessionEvent};
use support::Client;

fn ids(events: &[SessionEvent]) -> Vec<(String, String)> {
    events
        .iter()
        .filter_map(|e| match e {
            SessionEvent::Event(e) => Some((e.last_event_id().to_owned(), e.data().to_owned())),
            _ => None,
        })
        .collect()
}

#[test]
fn survives_many_reconnections_of_every_kind() {
    let mut c = Client::new(SessionConfig::new("http://h.test/e"));
    c.expect_connect();
    c.open();
    c.body(b"id: 1\ndata: one\n\n");
    let endings: [fn(&mut Client); 4] = [
        |c| c.session.handle_eof(c.now),
        |c| c.session.handle_error(c.now, Cause::Io),
        |c| {
            c.fire_timer(); // idle timeout
        },
        |c| c.session.handle_error(c.now, Cause::ConnectFailed),
    ];
    for round in 0..20 {
        endings[round % 4](&mut c);
        c.fire_timer(); // reconnection deadline
        let r = c.expect_connect();
        assert_eq!(r.headers[LAST_EVENT_ID], "1", "round {round}");
        assert_eq!(c.session.last_event_id(), "1");
        c.open();
    }
    // Events of the new connection inherit it.
    c.events();
    c.body(b"data: no id\n\n");
    assert_eq!(ids(&c.events()), [("1".to_owned(), "no id".to_owned())]);
}

#[test]
fn a_block_cut_off_mid_way_never_sets_it() {
    let cuts: [&'static [u8]; 5] = [
        b"id: 2\ndata: two\n",
        b"id: 2\n",
        b"id: 2",
        b"data: two\nid: 2\n",
        b"id: 2\r", // a lone CR ends the line, but not the block
    ];
    for cut in cuts {
        for end_with_error in [false, true] {
            let mut c = Client::new(SessionConfig::new("http://h.test/e"));
            c.expect_connect();
            c.open();
            c.body(b"id: 1\ndata: one\n\n");
            c.body(cut);
            if end_with_error {
                c.session.handle_error(c.now, Cause::Io);
            } else {
                c.session.handle_eof(c.now);
            }
            assert_eq!(c.session.last_event_id(), "1", "{cut:?}");
            let events = c.events();
            assert_eq!(
                ids(&events),
                [("1".to_owned(), "one".to_owned())],
                "{cut:?}"
            );
            c.fire_timer();
            assert_eq!(c.expect_connect().headers[LAST_EVENT_ID], "1");
            // The next connection starts afresh: the cut block's fields are gone.
            c.open();
            c.body(b"data: three\n\n");
            assert_eq!(ids(&c.events()), [("1".to_owned(), "three".to_owned())]);
        }
    }
}

#[test]
fn an_id_only_block_sets_it_and_a_bom_is_stripped_on_every_connection() {
    let mut c = Client::new(SessionConfig::new("http://h.test/e"));
    c.expect_connect();
    c.open();
    c.body(b"\xEF\xBB\xBFid: 5\n\n");
    assert_eq!(c.session.last_event_id(), "5");
    c.session.handle_eof(c.now);
    c.fire_timer();
    c.expect_connect();
    c.open();
    c.body(b"\xEF\xBB\xBFdata: x\n\n");
    assert_eq!(ids(&c.events()), [("5".to_owned(), "x".to_owned())]);
}
