//! The Lua scripts. Each runs atomically in Redis, so no other client sees a
//! half-done publish, claim or read.

/// The start of the scripts that read the log's epoch (`KEYS[1]` the
/// stream, `KEYS[2]` the meta hash, `ARGV[1]` a candidate epoch): a log
/// without an epoch is new or lost, so the stream left without its meta hash
/// is deleted and the candidate becomes the epoch, offsets starting again.
/// Sets the Lua local `epoch`.
macro_rules! epoch_or_start {
    () => {
        r"
local epoch = redis.call('hget', KEYS[2], 'epoch')
if not epoch then
  epoch = ARGV[1]
  redis.call('del', KEYS[1])
  redis.call('hset', KEYS[2], 'epoch', epoch, 'offset', 0)
end
"
    };
}

/// Publishes one event.
///
/// `KEYS[1]` the stream, `KEYS[2]` the meta hash; `ARGV[1]` a candidate
/// epoch (kept only if the log has none), `ARGV[2]` the exact `MAXLEN`,
/// `ARGV[3]` the TTL in seconds (`0`: none), `ARGV[4..]` the entry's field
/// and value pairs. Returns `{epoch, offset}`.
///
/// A log without an epoch is new or lost: a stream left without its meta hash
/// belongs to a lost epoch and is deleted, so offsets restart at 1 under the
/// new epoch and `XADD` never meets a larger id.
pub(crate) const PUBLISH: &str = concat!(
    epoch_or_start!(),
    r"local offset = redis.call('hincrby', KEYS[2], 'offset', 1)
redis.call('xadd', KEYS[1], 'MAXLEN', ARGV[2], string.format('%d-0', offset), 'e', epoch, unpack(ARGV, 4))
local ttl = tonumber(ARGV[3])
if ttl > 0 then
  redis.call('expire', KEYS[1], ttl)
  redis.call('expire', KEYS[2], ttl)
end
return {epoch, offset}
"
);

/// Reads the log's head and, optionally, entries after a position.
///
/// `KEYS[1]` the stream, `KEYS[2]` the meta hash; `ARGV[1]` a candidate epoch
/// (kept only if the log has none: the head is then defined before the first
/// publish), `ARGV[2]` `0` for the head alone, else the batch size;
/// `ARGV[3]` the caller's epoch, `ARGV[4]` its offset, `ARGV[5]` the entry id
/// that must come next (`{offset + 1}-0`).
///
/// Returns `{epoch, head}` or `{epoch, head, status[, entries]}` with status
/// `ok` (entries follow, oldest first), `epoch` (another epoch), `ahead` (the
/// offset is past the head: Redis lost writes) or `trimmed` (the next entry
/// is gone).
pub(crate) const READ: &str = concat!(
    epoch_or_start!(),
    r"local head = tonumber(redis.call('hget', KEYS[2], 'offset') or '0')
local count = tonumber(ARGV[2])
if count == 0 then return {epoch, head} end
if ARGV[3] ~= epoch then return {epoch, head, 'epoch'} end
local after = tonumber(ARGV[4])
if after > head then return {epoch, head, 'ahead'} end
if after == head then return {epoch, head, 'ok', {}} end
local entries = redis.call('xrange', KEYS[1], '(' .. ARGV[4] .. '-0', '+', 'COUNT', count)
if #entries == 0 or entries[1][1] ~= ARGV[5] then return {epoch, head, 'trimmed'} end
return {epoch, head, 'ok', entries}
"
);

/// Claims an identity for a connection.
///
/// `KEYS[1]` the identity's key; `ARGV[1]` the new token, `ARGV[2]` the node
/// channel prefix, `ARGV[3]` the identity. Sets the key, and if another token
/// held it, publishes a supersede notice on that token's node channel.
/// Returns the previous token or nil.
pub(crate) const CLAIM: &str = r"
local old = redis.call('get', KEYS[1])
redis.call('set', KEYS[1], ARGV[1])
if old and old ~= ARGV[1] then
  local node = string.match(old, '^(.+)%.%d+$')
  if node then
    redis.call('publish', ARGV[2] .. node, 'S' .. #ARGV[3] .. ':' .. ARGV[3] .. #old .. ':' .. old)
  end
end
return old
";

/// Releases an identity if `ARGV[1]` still holds it. Returns 1 or 0.
pub(crate) const RELEASE: &str = r"
if redis.call('get', KEYS[1]) == ARGV[1] then
  return redis.call('del', KEYS[1])
end
return 0
";

/// Sends to an identity's holder. `KEYS[1]` the identity's key; `ARGV[1]`
/// the node channel prefix, `ARGV[2]` the encoded rest of the message.
/// Returns the number of nodes that received it, `-1` when nobody holds the
/// identity, `-2` when the key holds no token of this crate.
pub(crate) const SEND_TO: &str = r"
local tok = redis.call('get', KEYS[1])
if not tok then return -1 end
local node = string.match(tok, '^(.+)%.%d+$')
if not node then return -2 end
return redis.call('publish', ARGV[1] .. node, 'T' .. #tok .. ':' .. tok .. ARGV[2])
";
