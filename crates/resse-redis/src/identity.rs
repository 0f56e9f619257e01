//! One connection per identity across nodes, and sends to an identity
//! wherever it is connected.
//!
//! Each identity has a key holding the token of its newest claim; a token is
//! `{node_id}.{number}`, so the key also says which node holds the identity.
//! Each node subscribes to a control channel of its own. A claim replaces the
//! key and, in the same script, publishes a "superseded" notice on the
//! channel of the node that held the old token; a targeted send reads the key
//! and publishes the event on the holder's channel, again in one script, so
//! a send never goes to a node that lost the identity before the send.
//!
//! PUB/SUB delivers at most once: a notice published while a node's control
//! connection was down is lost. So after every (re)subscription the node
//! re-reads the keys of every identity it holds and raises the notices it
//! missed. A targeted send that no node received is reported to the sender
//! ([`Targeted::HolderUnreachable`]), never dropped silently.

use std::collections::HashMap;
use std::pin::{Pin, pin};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};

use redis::{Script, Value};
use resse_codec::{Event, Text};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use crate::entry::bytes;
use crate::error::{Error, ErrorKind};
use crate::log::RedisLog;
use crate::state::{LinkState, mark_connected, mark_failed};

/// Longest accepted identity, in bytes.
pub const MAX_IDENTITY_LEN: usize = 512;

/// Identities re-read per `MGET` after a resubscription.
const RECHECK_CHUNK: usize = 256;

/// The token of one claim: which node and which claim. Compare it with the
/// token a [`Notice`] names to find the connection concerned.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ClaimToken(String);

impl ClaimToken {
    /// The token as text (`{node_id}.{number}`).
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The node that made the claim.
    pub fn node_id(&self) -> &str {
        self.0.rsplit_once('.').map_or("", |(node, _)| node)
    }
}

impl std::fmt::Display for ClaimToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// What a claim found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Claim {
    /// The new claim's token: keep it with the connection; release with it.
    pub token: ClaimToken,
    /// The token this claim replaced, if the identity was held (its node has
    /// been told).
    pub superseded: Option<ClaimToken>,
}

/// What a node's control channel brings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Notice {
    /// A newer claim took `identity` from the connection with `token` on this
    /// node: end that connection (with the same final event as the
    /// single-node rule). Raised once per claim, and only while this node
    /// still held the identity with that token.
    Superseded {
        /// The identity.
        identity: String,
        /// The token of the connection to end.
        token: ClaimToken,
    },
    /// An event sent to `identity`, which this node holds with `token`:
    /// write it to that connection.
    Targeted {
        /// The identity.
        identity: String,
        /// The token of the connection to write to.
        token: ClaimToken,
        /// The event (type and data as sent).
        event: Event,
    },
}

/// What a targeted send found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Targeted {
    /// The holder's node received it.
    Delivered,
    /// No connection holds the identity.
    NotHeld,
    /// A node holds the identity but is not listening (it died without
    /// releasing, or its control connection is down): nothing was delivered.
    HolderUnreachable,
}

struct Shared {
    log: RedisLog,
    /// identity → this node's claim of it.
    held: Mutex<HashMap<String, Held>>,
    channel: String,
    claim: Script,
    release: Script,
    send_to: Script,
}

impl Shared {
    fn held(&self) -> std::sync::MutexGuard<'_, HashMap<String, Held>> {
        self.held.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Removes `identity` if held with `token`; whether it was.
    fn drop_if_held(&self, identity: &str, token: &ClaimToken) -> bool {
        let mut held = self.held();
        if held.get(identity).is_some_and(|h| h.token == *token) {
            held.remove(identity);
            true
        } else {
            false
        }
    }

    fn holds(&self, identity: &str, token: &ClaimToken) -> bool {
        self.held().get(identity).is_some_and(|h| h.token == *token)
    }
}

/// One claim of this node.
struct Held {
    token: ClaimToken,
    /// Whether the claim script has returned: only then is the key known to
    /// hold the token, and a re-read that finds another value means the
    /// claim was superseded (before, it may just not have been written yet).
    confirmed: bool,
}

/// This node's side of the cross-node identity rules; cheap to clone. Made
/// by [`RedisLog::identities`] with its [`Notices`].
#[derive(Clone)]
pub struct Identities {
    shared: Arc<Shared>,
    state: watch::Receiver<LinkState>,
}

impl std::fmt::Debug for Identities {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Identities")
            .field("channel", &self.shared.channel)
            .finish_non_exhaustive()
    }
}

/// The notices for this node, in the order its control channel got them.
/// Read with [`Notices::next`] or as a [`futures_core::Stream`]; dropping it
/// stops the control channel.
#[derive(Debug)]
pub struct Notices {
    rx: mpsc::Receiver<Notice>,
    task: JoinHandle<()>,
}

impl Notices {
    /// The next notice; `None` once the task has ended.
    pub async fn next(&mut self) -> Option<Notice> {
        self.rx.recv().await
    }
}

impl Drop for Notices {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl futures_core::Stream for Notices {
    type Item = Notice;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Notice>> {
        self.rx.poll_recv(cx)
    }
}

impl RedisLog {
    /// Starts this node's control channel (a PUB/SUB connection of its own,
    /// spawned on the current tokio runtime, reconnecting with backoff) and
    /// returns the claim/send handle with the stream of notices for this
    /// node. Make one per node.
    pub fn identities(&self) -> (Identities, Notices) {
        let config = self.config();
        let shared = Arc::new(Shared {
            log: self.clone(),
            held: Mutex::new(HashMap::new()),
            channel: format!("{}{}", config.node_channel_prefix(), self.node_id()),
            claim: Script::new(crate::scripts::CLAIM),
            release: Script::new(crate::scripts::RELEASE),
            send_to: Script::new(crate::scripts::SEND_TO),
        });
        let (tx, rx) = mpsc::channel(config.get_notice_buffer());
        let (state_tx, state) = watch::channel(LinkState::Connecting);
        let task = tokio::spawn(control(Arc::clone(&shared), tx, state_tx));
        (Identities { shared, state }, Notices { rx, task })
    }
}

impl Identities {
    fn check_identity(&self, identity: &str) -> Result<(), Error> {
        if identity.is_empty() || identity.len() > MAX_IDENTITY_LEN {
            return Err(Error::new(
                ErrorKind::Config,
                self.shared.log.target(),
                format!(
                    "identity of {} bytes: expected 1 to {MAX_IDENTITY_LEN}",
                    identity.len()
                ),
            ));
        }
        Ok(())
    }

    /// Claims `identity` for a new connection on this node. The previous
    /// holder, on whichever node, gets [`Notice::Superseded`].
    pub async fn claim(&self, identity: &str) -> Result<Claim, Error> {
        self.check_identity(identity)?;
        let log = &self.shared.log;
        let n = log.inner.claims.fetch_add(1, Ordering::Relaxed);
        let token = ClaimToken(format!("{}.{n}", log.node_id()));
        // Held before the claim is visible, so that a targeted send racing
        // with the claim finds it.
        let before = self.shared.held().insert(
            identity.to_owned(),
            Held {
                token: token.clone(),
                confirmed: false,
            },
        );
        let mut conn = log.inner_conn();
        let result: Result<Option<String>, _> = self
            .shared
            .claim
            .key(log.config().identity_key(identity))
            .arg(token.as_str())
            .arg(log.config().node_channel_prefix())
            .arg(identity)
            .invoke_async(&mut conn)
            .await;
        match log.record(result) {
            Ok(previous) => {
                if let Some(h) = self.shared.held().get_mut(identity) {
                    if h.token == token {
                        h.confirmed = true;
                    }
                }
                Ok(Claim {
                    token,
                    superseded: previous.map(ClaimToken),
                })
            }
            Err(e) => {
                let mut held = self.shared.held();
                if held.get(identity).is_some_and(|h| h.token == token) {
                    match before {
                        Some(b) => held.insert(identity.to_owned(), b),
                        None => held.remove(identity),
                    };
                }
                Err(e)
            }
        }
    }

    /// Releases `identity` when its connection ends, if `token` still holds
    /// it; whether it did (a newer claim is left alone).
    pub async fn release(&self, identity: &str, token: &ClaimToken) -> Result<bool, Error> {
        self.shared.drop_if_held(identity, token);
        let log = &self.shared.log;
        let mut conn = log.inner_conn();
        let result: Result<i64, _> = self
            .shared
            .release
            .key(log.config().identity_key(identity))
            .arg(token.as_str())
            .invoke_async(&mut conn)
            .await;
        Ok(log.record(result)? == 1)
    }

    /// Whether this node holds `identity` with `token` (as far as it knows).
    pub fn holds(&self, identity: &str, token: &ClaimToken) -> bool {
        self.shared.holds(identity, token)
    }

    /// Sends `event` (type and data) to the connection holding `identity`,
    /// on whichever node: it arrives there as [`Notice::Targeted`].
    pub async fn send_to(&self, identity: &str, event: &Event) -> Result<Targeted, Error> {
        self.check_identity(identity)?;
        let log = &self.shared.log;
        let mut rest = Vec::new();
        put_field(&mut rest, identity.as_bytes());
        put_field(
            &mut rest,
            event.event_type_text().map_or(&b""[..], |t| t.as_bytes()),
        );
        put_field(&mut rest, event.data().as_bytes());
        let mut conn = log.inner_conn();
        let result: Result<i64, _> = self
            .shared
            .send_to
            .key(log.config().identity_key(identity))
            .arg(log.config().node_channel_prefix())
            .arg(rest)
            .invoke_async(&mut conn)
            .await;
        match log.record(result)? {
            -1 => Ok(Targeted::NotHeld),
            -2 => Err(Error::corrupt(
                log.target(),
                format!("the key of identity {identity:?} holds no claim token"),
            )),
            0 => Ok(Targeted::HolderUnreachable),
            _ => Ok(Targeted::Delivered),
        }
    }

    /// The state of this node's control channel. While it is not connected,
    /// notices for this node are missed (and raised after it reconnects, for
    /// supersessions).
    pub fn state(&self) -> LinkState {
        self.state.borrow().clone()
    }

    /// A receiver that sees every change of [`state`](Self::state).
    pub fn watch_state(&self) -> watch::Receiver<LinkState> {
        self.state.clone()
    }
}

fn put_field(out: &mut Vec<u8>, field: &[u8]) {
    out.extend_from_slice(field.len().to_string().as_bytes());
    out.push(b':');
    out.extend_from_slice(field);
}

/// Splits `{len}:{bytes}` fields.
fn fields(mut rest: &[u8]) -> Option<Vec<&[u8]>> {
    let mut out = Vec::new();
    while !rest.is_empty() {
        let colon = rest.iter().position(|&b| b == b':')?;
        let len: usize = std::str::from_utf8(&rest[..colon]).ok()?.parse().ok()?;
        let body = rest.get(colon + 1..)?;
        out.push(body.get(..len)?);
        rest = &body[len..];
    }
    Some(out)
}

/// A control message, or `None` if it is not one of ours.
fn parse_notice(payload: &[u8]) -> Option<Notice> {
    let (&kind, rest) = payload.split_first()?;
    let f = fields(rest)?;
    let s = |b: &[u8]| std::str::from_utf8(b).ok().map(str::to_owned);
    match (kind, f.as_slice()) {
        (b'S', [identity, token]) => Some(Notice::Superseded {
            identity: s(identity)?,
            token: ClaimToken(s(token)?),
        }),
        (b'T', [token, identity, ty, data]) => {
            let mut event = Event::new(Text::from(s(data)?));
            if !ty.is_empty() {
                event = event.with_event_type(Text::from(s(ty)?));
            }
            Some(Notice::Targeted {
                identity: s(identity)?,
                token: ClaimToken(s(token)?),
                event,
            })
        }
        _ => None,
    }
}

struct Closed;

async fn control(shared: Arc<Shared>, tx: mpsc::Sender<Notice>, state: watch::Sender<LinkState>) {
    let mut attempts = 0u32;
    loop {
        let result = control_session(&shared, &tx, &state, &mut attempts).await;
        match result {
            Ok(Closed) => return,
            Err(e) => {
                mark_failed(&state, e.to_string());
                attempts = attempts.saturating_add(1);
                let delay = shared.log.config().backoff_delay(attempts);
                tokio::select! {
                    () = tokio::time::sleep(delay) => {}
                    () = tx.closed() => return,
                }
            }
        }
    }
}

async fn control_session(
    shared: &Shared,
    tx: &mpsc::Sender<Notice>,
    state: &watch::Sender<LinkState>,
    attempts: &mut u32,
) -> Result<Closed, Error> {
    let log = &shared.log;
    let config = log.config();
    let target = log.target();
    let unavailable = |detail: String| Error::new(ErrorKind::Unavailable, target, detail);
    let within = |what: &'static str| {
        let limit = config.get_connect_timeout();
        move |_| unavailable(format!("{what} took longer than {limit:?}"))
    };
    let mut pubsub = tokio::time::timeout(
        config.get_connect_timeout(),
        log.inner.client.get_async_pubsub(),
    )
    .await
    .map_err(within("connecting the control channel"))?
    .map_err(|e| Error::from_redis(target, &e))?;
    tokio::time::timeout(
        config.get_connect_timeout(),
        pubsub.subscribe(&shared.channel),
    )
    .await
    .map_err(within("subscribing"))?
    .map_err(|e| Error::from_redis(target, &e))?;
    let (mut sink, stream) = pubsub.split();
    let mut stream = pin!(stream);
    // Notices published while this node was not subscribed are lost: re-read
    // what this node holds.
    if recheck(shared, tx).await?.is_err() {
        return Ok(Closed);
    }
    *attempts = 0;
    mark_connected(state);
    let idle = config.get_tail_block();
    loop {
        let next = std::future::poll_fn(|cx| futures_core::Stream::poll_next(stream.as_mut(), cx));
        let msg = tokio::select! {
            msg = next => msg,
            () = tokio::time::sleep(idle) => {
                // Quiet: make sure the connection is alive.
                let pong: Result<Result<String, _>, _> =
                    tokio::time::timeout(config.get_response_timeout(), sink.ping()).await;
                match pong {
                    Ok(Ok(_)) => continue,
                    Ok(Err(e)) => return Err(Error::from_redis(target, &e)),
                    Err(_) => return Err(unavailable("no answer to PING on the control channel".to_owned())),
                }
            }
            () = tx.closed() => return Ok(Closed),
        };
        let Some(msg) = msg else {
            return Err(unavailable("the control channel was closed".to_owned()));
        };
        let Some(notice) = parse_notice(msg.get_payload_bytes()) else {
            continue;
        };
        let wanted = match &notice {
            Notice::Superseded { identity, token } => shared.drop_if_held(identity, token),
            Notice::Targeted {
                identity, token, ..
            } => shared.holds(identity, token),
        };
        if wanted && tx.send(notice).await.is_err() {
            return Ok(Closed);
        }
    }
}

/// Re-reads the key of every identity this node holds; raises
/// [`Notice::Superseded`] for those taken meanwhile.
async fn recheck(shared: &Shared, tx: &mpsc::Sender<Notice>) -> Result<Result<(), Closed>, Error> {
    let log = &shared.log;
    let held: Vec<(String, ClaimToken)> = shared
        .held()
        .iter()
        .filter(|(_, h)| h.confirmed)
        .map(|(i, h)| (i.clone(), h.token.clone()))
        .collect();
    for chunk in held.chunks(RECHECK_CHUNK) {
        let mut cmd = redis::cmd("MGET");
        for (identity, _) in chunk {
            cmd.arg(log.config().identity_key(identity));
        }
        let mut conn = log.inner_conn();
        let reply: Value = log.record(cmd.query_async(&mut conn).await)?;
        let values = crate::entry::array(&reply)
            .ok_or_else(|| Error::corrupt(log.target(), "MGET reply is not a list"))?;
        for ((identity, token), value) in chunk.iter().zip(values) {
            let current = bytes(value);
            if current != Some(token.as_str().as_bytes()) && shared.drop_if_held(identity, token) {
                let notice = Notice::Superseded {
                    identity: identity.clone(),
                    token: token.clone(),
                };
                if tx.send(notice).await.is_err() {
                    return Ok(Err(Closed));
                }
            }
        }
    }
    Ok(Ok(()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_messages_round_trip_and_garbage_is_ignored() {
        let mut rest = b"T".to_vec();
        put_field(&mut rest, b"n1.7");
        put_field(&mut rest, "usér".as_bytes());
        put_field(&mut rest, b"probe");
        put_field(&mut rest, b"a\nb:c");
        let Some(Notice::Targeted {
            identity,
            token,
            event,
        }) = parse_notice(&rest)
        else {
            panic!("not parsed");
        };
        assert_eq!((identity.as_str(), token.node_id()), ("usér", "n1"));
        assert_eq!((event.event_type(), event.data()), ("probe", "a\nb:c"));
        for garbage in [
            &b""[..],
            b"S",
            b"S3:ab",
            b"S99:x",
            b"Sx:1",
            b"X1:a1:b",
            b"S1:a",
        ] {
            assert_eq!(parse_notice(garbage), None, "{garbage:?}");
        }
    }
}
