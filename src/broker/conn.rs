//! Talking to Redis: connecting with a time limit, reconnecting after a
//! failure, the two Lua scripts that keep the stream's origin next to it,
//! and reading the replies into [`StreamId`]s and entries.
//!
//! Scripts, because each step must be atomic on the server: appending must
//! record the origin of a new life of the stream *before* its first entry
//! (after a restart the first writer may be any instance), and reading
//! after a client's id must see the entries and the trimming state at the
//! same instant, or a trim in between could hide a gap.

use std::time::Duration;

use redis::aio::MultiplexedConnection;
use redis::{AsyncConnectionConfig, Client, RedisResult, Value};
use tokio::sync::Mutex;

use super::log::{Entry, LogInfo, StreamId};

/// How long connecting may take before Redis counts as unreachable.
pub(crate) const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// Records the origin of this life of the stream if there is none. A
/// stream that exists without one was not started by us: everything in it
/// counts (origin `0-0`). Otherwise the origin is one millisecond before
/// now, below any id `XADD *` will generate from here on.
const ENSURE_ORIGIN: &str = r"
local origin = redis.call('GET', KEYS[2])
if not origin then
  if redis.call('EXISTS', KEYS[1]) == 1 then
    origin = '0-0'
  else
    local t = redis.call('TIME')
    origin = string.format('%.0f', tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) - 1) .. '-0'
  end
  redis.call('SET', KEYS[2], origin)
end
";

/// KEYS: stream, origin, trim mark. ARGV: max length (at least 1), event
/// type, data. Returns the new entry's id.
///
/// The stream is trimmed here rather than with `XADD MAXLEN ~`, because
/// Redis does not tell which ids a trim removed (`max-deleted-entry-id`
/// only follows `XDEL`), and resuming needs to know exactly. Like `~`, it
/// trims in batches (when a tenth over the length, back to the length),
/// so each append reads a tenth of an entry on average; the last id
/// removed is recorded in the trim mark in the same step.
const APPEND: &str = r"
local id = redis.call('XADD', KEYS[1], '*', 'event', ARGV[2], 'data', ARGV[3])
local max = tonumber(ARGV[1])
local len = redis.call('XLEN', KEYS[1])
if len >= max + math.max(1, math.floor(max / 10)) then
  local head = redis.call('XRANGE', KEYS[1], '-', '+', 'COUNT', len - max + 1)
  redis.call('XTRIM', KEYS[1], 'MINID', head[#head][1])
  redis.call('SET', KEYS[3], head[#head - 1][1])
end
return id
";

/// KEYS: stream, origin, trim mark. ARGV: the id to read after ('' reads
/// nothing), how many entries at most. Returns {origin, last generated id,
/// largest id deleted by XDEL, largest id trimmed, entries}.
const READ_AFTER: &str = r"
local last, deleted = '0-0', '0-0'
local trimmed = redis.call('GET', KEYS[3]) or '0-0'
if redis.call('EXISTS', KEYS[1]) == 1 then
  local info = redis.call('XINFO', 'STREAM', KEYS[1])
  for i = 1, #info, 2 do
    if info[i] == 'last-generated-id' then last = info[i + 1]
    elseif info[i] == 'max-deleted-entry-id' then deleted = info[i + 1] end
  end
end
local entries = {}
if ARGV[1] ~= '' then
  entries = redis.call('XRANGE', KEYS[1], '(' .. ARGV[1], '+', 'COUNT', ARGV[2])
end
return {origin, last, deleted, trimmed, entries}
";

/// A lazily (re)connected, shared connection for short commands. A failed
/// command drops it; the next one connects again.
#[derive(Debug, Clone)]
pub(crate) struct Shared {
    client: Client,
    conn: std::sync::Arc<Mutex<Option<MultiplexedConnection>>>,
}

impl Shared {
    pub fn new(client: Client) -> Self {
        Shared {
            client,
            conn: Default::default(),
        }
    }

    /// Runs `cmd`, connecting first if needed; on failure the connection
    /// is dropped so that the next call starts afresh.
    pub async fn query<T: redis::FromRedisValue>(&self, cmd: &redis::Cmd) -> RedisResult<T> {
        let mut conn = {
            let mut slot = self.conn.lock().await;
            match &*slot {
                Some(conn) => conn.clone(),
                None => {
                    let conn = connect(&self.client, Duration::from_secs(5)).await?;
                    *slot = Some(conn.clone());
                    conn
                }
            }
        };
        let result = cmd.query_async(&mut conn).await;
        if let Err(err) = &result {
            if !matches!(err.kind(), redis::ErrorKind::Server(_)) {
                *self.conn.lock().await = None;
            }
        }
        result
    }
}

/// A new multiplexed connection; replies may take `response_timeout`
/// (longer than any `BLOCK` sent on it).
pub(crate) async fn connect(
    client: &Client,
    response_timeout: Duration,
) -> RedisResult<MultiplexedConnection> {
    let config = AsyncConnectionConfig::new()
        .set_connection_timeout(Some(CONNECT_TIMEOUT))
        .set_response_timeout(Some(response_timeout));
    client
        .get_multiplexed_async_connection_with_config(&config)
        .await
}

fn script(body: &str, keys: &Keys) -> redis::Cmd {
    let mut cmd = redis::cmd("EVAL");
    cmd.arg(format!("{ENSURE_ORIGIN}{body}"))
        .arg(3)
        .arg(&keys.stream)
        .arg(&keys.origin)
        .arg(&keys.trimmed);
    cmd
}

/// The append script: `XADD`, then trimming to about `max_len` entries
/// with the trim mark recorded, and the origin first if needed.
pub(crate) fn append_cmd(keys: &Keys, max_len: usize, event: &str, data: &str) -> redis::Cmd {
    let mut cmd = script(APPEND, keys);
    cmd.arg(max_len.max(1)).arg(event).arg(data);
    cmd
}

/// The keys of one stream: the stream, its origin, its trim mark.
#[derive(Debug, Clone)]
pub(crate) struct Keys {
    pub stream: String,
    origin: String,
    trimmed: String,
}

impl Keys {
    pub fn new(stream: String) -> Keys {
        Keys {
            origin: format!("{stream}:origin"),
            trimmed: format!("{stream}:trimmed"),
            stream,
        }
    }
}

/// The atomic "info and entries after `after`" read (`None`: info only).
pub(crate) fn read_after_cmd(keys: &Keys, after: Option<StreamId>, count: usize) -> redis::Cmd {
    let mut cmd = script(READ_AFTER, keys);
    cmd.arg(after.map(|id| id.to_string()).unwrap_or_default())
        .arg(count);
    cmd
}

/// `XREAD BLOCK` after `after`, up to `count` entries.
pub(crate) fn tail_cmd(stream: &str, after: StreamId, count: usize, block: Duration) -> redis::Cmd {
    let mut cmd = redis::cmd("XREAD");
    cmd.arg("COUNT")
        .arg(count)
        .arg("BLOCK")
        .arg(block.as_millis() as u64)
        .arg("STREAMS")
        .arg(stream)
        .arg(after.to_string());
    cmd
}

fn text(value: &Value) -> Option<String> {
    match value {
        Value::BulkString(bytes) => String::from_utf8(bytes.clone()).ok(),
        Value::SimpleString(s) => Some(s.clone()),
        Value::Okay => Some("OK".into()),
        Value::Int(i) => Some(i.to_string()),
        _ => None,
    }
}

fn id_of(value: &Value) -> Option<StreamId> {
    StreamId::parse(&text(value)?)
}

fn malformed(what: &str) -> redis::RedisError {
    redis::RedisError::from((
        redis::ErrorKind::UnexpectedReturnType,
        "unexpected reply",
        what.to_string(),
    ))
}

/// The id `XADD` returned.
pub(crate) fn parse_id_reply(value: &Value) -> RedisResult<StreamId> {
    id_of(value).ok_or_else(|| malformed("an entry id"))
}

/// Entries as `XRANGE` (and each stream of `XREAD`) returns them.
pub(crate) fn parse_entries(value: &Value) -> RedisResult<Vec<Entry>> {
    let Value::Array(items) = value else {
        return match value {
            Value::Nil => Ok(Vec::new()),
            _ => Err(malformed("a list of entries")),
        };
    };
    let mut entries = Vec::with_capacity(items.len());
    for item in items {
        let Value::Array(pair) = item else {
            return Err(malformed("an entry"));
        };
        let (Some(id), Some(Value::Array(fields))) = (pair.first().and_then(id_of), pair.get(1))
        else {
            return Err(malformed("an entry's id and fields"));
        };
        let mut entry = Entry {
            id,
            event: None,
            data: String::new(),
        };
        for field in fields.chunks(2) {
            match (
                field.first().and_then(text).as_deref(),
                field.get(1).and_then(text),
            ) {
                (Some("event"), Some(v)) => entry.event = Some(v),
                (Some("data"), Some(v)) => entry.data = v,
                _ => {}
            }
        }
        entries.push(entry);
    }
    Ok(entries)
}

/// An `XREAD` reply for one stream (nil when the block timed out).
pub(crate) fn parse_tail(value: &Value) -> RedisResult<Vec<Entry>> {
    match value {
        Value::Nil => Ok(Vec::new()),
        Value::Array(streams) => match streams.first() {
            None => Ok(Vec::new()),
            Some(Value::Array(stream)) => parse_entries(stream.get(1).unwrap_or(&Value::Nil)),
            Some(_) => Err(malformed("a stream")),
        },
        Value::Map(streams) => match streams.first() {
            None => Ok(Vec::new()),
            Some((_, entries)) => parse_entries(entries),
        },
        _ => Err(malformed("an XREAD reply")),
    }
}

/// The reply of [`read_after_cmd`].
pub(crate) fn parse_read_after(value: &Value) -> RedisResult<(LogInfo, Vec<Entry>)> {
    let Value::Array(parts) = value else {
        return Err(malformed("the read script's reply"));
    };
    let id = |i: usize| {
        parts
            .get(i)
            .and_then(id_of)
            .ok_or_else(|| malformed("an id"))
    };
    let info = LogInfo {
        origin: id(0)?,
        last_generated: id(1)?,
        // Deleted one by one or trimmed: either way gone.
        max_deleted: id(2)?.max(id(3)?),
    };
    let entries = parse_entries(parts.get(4).unwrap_or(&Value::Nil))?;
    Ok((info, entries))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bulk(s: &str) -> Value {
        Value::BulkString(s.as_bytes().to_vec())
    }

    #[test]
    fn replies_are_read_into_entries() {
        let entry = |id: &str, data: &str| {
            Value::Array(vec![
                bulk(id),
                Value::Array(vec![bulk("event"), bulk("quote"), bulk("data"), bulk(data)]),
            ])
        };
        let xread = Value::Array(vec![Value::Array(vec![
            bulk("k"),
            Value::Array(vec![entry("1-0", "a"), entry("1-1", "b")]),
        ])]);
        let got = parse_tail(&xread).unwrap();
        assert_eq!(got.len(), 2);
        assert_eq!(got[1].id, StreamId { ms: 1, seq: 1 });
        assert_eq!(got[1].event.as_deref(), Some("quote"));
        assert_eq!(got[1].data, "b");
        assert!(parse_tail(&Value::Nil).unwrap().is_empty());

        let read = Value::Array(vec![
            bulk("5-0"),
            bulk("9-0"),
            bulk("0-0"),
            bulk("7-0"),
            Value::Array(vec![entry("9-0", "z")]),
        ]);
        let (info, entries) = parse_read_after(&read).unwrap();
        assert_eq!(info.origin, StreamId { ms: 5, seq: 0 });
        assert_eq!(info.last_generated, StreamId { ms: 9, seq: 0 });
        assert_eq!(info.max_deleted, StreamId { ms: 7, seq: 0 });
        assert_eq!(entries[0].data, "z");
        assert!(parse_read_after(&bulk("x")).is_err());
    }
}
