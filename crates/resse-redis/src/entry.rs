//! Reading Redis replies without trusting them: every shape is checked, and
//! anything unexpected is a [`ErrorKind::Corrupt`](crate::ErrorKind) error,
//! never a panic.

use std::time::Duration;

use redis::Value;
use resse_codec::{Event, Text};

use crate::error::Error;
use crate::position::{Epoch, Position, parse_offset};

pub(crate) fn bytes(v: &Value) -> Option<&[u8]> {
    match v {
        Value::BulkString(b) => Some(b),
        Value::SimpleString(s) => Some(s.as_bytes()),
        _ => None,
    }
}

pub(crate) fn text(v: &Value) -> Option<&str> {
    std::str::from_utf8(bytes(v)?).ok()
}

pub(crate) fn int(v: &Value) -> Option<i64> {
    match v {
        Value::Int(i) => Some(*i),
        _ => text(v)?.parse().ok(),
    }
}

pub(crate) fn array(v: &Value) -> Option<&[Value]> {
    match v {
        Value::Array(a) | Value::Set(a) => Some(a),
        _ => None,
    }
}

/// The fields an event is stored as: `t` its type (when set), `d` its data,
/// `r` its retry in ms (when set). `e`, the epoch, is added by the script.
pub(crate) fn event_fields(event: &Event) -> Vec<(&'static str, Vec<u8>)> {
    let mut fields = Vec::with_capacity(3);
    if let Some(t) = event.event_type_text() {
        fields.push(("t", t.as_bytes().to_vec()));
    }
    fields.push(("d", event.data().as_bytes().to_vec()));
    if let Some(r) = event.retry() {
        fields.push(("r", r.as_millis().to_string().into_bytes()));
    }
    fields
}

/// A stream entry id `MS-SEQ`, as numbers.
pub(crate) fn entry_id(raw: &str) -> Option<(u64, u64)> {
    let (ms, seq) = raw.split_once('-')?;
    Some((parse_offset(ms)?, parse_offset(seq)?))
}

/// One stream entry as read: its raw id and what it decodes to.
pub(crate) struct RawEntry {
    pub(crate) id: String,
    pub(crate) offset: u64,
    pub(crate) decoded: Result<(Epoch, Event), String>,
}

/// Splits an entry `[id, [field, value, ...]]`. The id must be readable;
/// the fields are decoded into `decoded` (an error there concerns this entry
/// alone).
pub(crate) fn raw_entry(target: &str, v: &Value) -> Result<RawEntry, Error> {
    let parts = array(v).filter(|p| p.len() == 2).ok_or_else(|| {
        Error::corrupt(target, format!("stream entry is not [id, fields]: {v:?}"))
    })?;
    let id = text(&parts[0])
        .ok_or_else(|| Error::corrupt(target, "stream entry id is not text"))?
        .to_owned();
    let (offset, seq) = entry_id(&id)
        .ok_or_else(|| Error::corrupt(target, format!("stream entry id {id:?} is not MS-SEQ")))?;
    let decoded = if seq == 0 {
        decode_fields(&parts[1], &id)
    } else {
        Err(format!(
            "entry {id:?} was not written by resse-redis (its id is not OFFSET-0)"
        ))
    };
    Ok(RawEntry {
        id,
        offset,
        decoded,
    })
}

fn decode_fields(v: &Value, id: &str) -> Result<(Epoch, Event), String> {
    let list = array(v).ok_or_else(|| format!("entry {id}: fields are not a list"))?;
    if list.len() % 2 != 0 {
        return Err(format!("entry {id}: odd number of field items"));
    }
    let (mut epoch, mut data, mut ty, mut retry) = (None, None, None, None);
    for pair in list.chunks_exact(2) {
        let name = bytes(&pair[0]).ok_or_else(|| format!("entry {id}: field name is not text"))?;
        let value = || {
            text(&pair[1]).map(str::to_owned).ok_or_else(|| {
                format!(
                    "entry {id}: field {:?} is not UTF-8 text",
                    String::from_utf8_lossy(name)
                )
            })
        };
        match name {
            b"e" => {
                epoch = Some(
                    Epoch::new(&value()?).map_err(|_| format!("entry {id}: bad epoch field"))?,
                );
            }
            b"d" => data = Some(value()?),
            b"t" => ty = Some(value()?),
            b"r" => {
                let ms = parse_offset(&value()?)
                    .ok_or_else(|| format!("entry {id}: retry field is not a number"))?;
                retry = Some(Duration::from_millis(ms));
            }
            // Fields a later version may add are ignored.
            _ => {}
        }
    }
    let epoch = epoch.ok_or_else(|| format!("entry {id}: no epoch field `e`"))?;
    let data = data.ok_or_else(|| format!("entry {id}: no data field `d`"))?;
    let mut event = Event::new(Text::from(data));
    if let Some(ty) = ty {
        event = event.with_event_type(Text::from(ty));
    }
    if let Some(retry) = retry {
        event = event.with_retry(retry);
    }
    Ok((epoch, event))
}

/// Gives `event` the wire id of `position`.
pub(crate) fn with_position(event: Event, position: &Position) -> Event {
    event.with_id(Text::from(position.to_string()))
}

/// Reads `{epoch, head, ...}` of the read script.
pub(crate) fn head_of(target: &str, reply: &[Value]) -> Result<Position, Error> {
    let epoch = reply
        .first()
        .and_then(text)
        .and_then(|e| Epoch::new(e).ok())
        .ok_or_else(|| Error::corrupt(target, "the meta hash holds no valid epoch"))?;
    let head = reply
        .get(1)
        .and_then(int)
        .and_then(|h| u64::try_from(h).ok())
        .ok_or_else(|| Error::corrupt(target, "the meta hash holds no valid offset"))?;
    Ok(Position::new(epoch, head))
}
