// The demo page's script: plain JavaScript, served as is by the binary
// (no bundler, no framework). It connects the ticker (EventSource), the
// chat (WebSocket) and the wire view (another EventSource, fed by the
// server's tap), and holds the fetch()-based event-stream reader.
//
// Everything the browser tests look at is on `window.demo`. Load the page
// with `?manual` and nothing connects by itself (the tests that count
// connections need a quiet page).
'use strict';

const params = new URLSearchParams(location.search);
const $ = (selector) => document.querySelector(selector);

const demo = {
  quotes: [], // every quote event: {id, symbol, price, change}
  tickerOpens: 0, // how many times the ticker stream opened
  tickerStates: [], // every state the ticker went through, in order
  chatLines: [], // every chat line received
  chatStates: [],
  wire: [], // wire records, oldest first (bounded, see WIRE_KEEP)
  wireLagged: 0, // records the server dropped because we were slow
};
window.demo = demo;

// This page's view of the wire: a random id the page adds (as ?wire=) to
// every URL it opens, and to /wire itself. The server shows a /wire viewer
// only the connections that carry its id, so no page sees another's
// traffic. getRandomValues works on plain http too (randomUUID does not).
const WIRE_VIEW = Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) =>
  b.toString(16).padStart(2, '0'),
).join('');
demo.wireView = WIRE_VIEW;

// `path` on this server, with this page's wire view id.
function withView(path) {
  const url = new URL(path, location.href);
  url.searchParams.set('wire', WIRE_VIEW);
  return url;
}
demo.withView = withView;

// ANCHOR: ws_url
// A WebSocket URL for `path` on this server: wss: when the page came over
// https (a secure page may not open ws: at all: mixed content), ws:
// otherwise.
function wsUrl(path) {
  const url = withView(path);
  url.protocol = location.protocol === 'https:' ? 'wss:' : 'ws:';
  return url;
}
demo.wsUrl = wsUrl;
// ANCHOR_END: ws_url

const WIRE_KEEP = 4000; // records kept in memory
const WIRE_SHOWN = 120; // records kept on screen

function setState(id, list, state) {
  const el = document.getElementById(id);
  if (el) {
    el.textContent = state;
    el.dataset.state = state;
  }
  list.push(state);
}

// ---------------------------------------------------------------- ticker

// ANCHOR: eventsource
// The ticker: one EventSource. The browser does the rest: it parses the
// stream, fires one event per `event: quote` block, remembers the last
// `id:` and, when the connection drops, reconnects by itself (after the
// `retry:` the server asked for) with a `Last-Event-ID` header.
function connectTicker() {
  const source = new EventSource(withView('/ticker'));
  setState('ticker-state', demo.tickerStates, 'connecting');
  source.onopen = () => {
    demo.tickerOpens += 1;
    $('#ticker-opens').textContent = String(demo.tickerOpens);
    setState('ticker-state', demo.tickerStates, 'open');
  };
  source.onerror = () => {
    // CONNECTING: the browser is already retrying on its own.
    // CLOSED: it gave up (a non-200 answer, or not text/event-stream).
    const retrying = source.readyState === EventSource.CONNECTING;
    const state = retrying ? (demo.tickerOpens > 0 ? 'reconnecting' : 'connecting') : 'closed';
    setState('ticker-state', demo.tickerStates, state);
  };
  source.addEventListener('quote', (event) => {
    const quote = JSON.parse(event.data);
    demo.quotes.push({ id: event.lastEventId, ...quote });
    $('#ticker-last-id').textContent = event.lastEventId;
    showQuote(quote);
  });
  // Sent by the hub instead of a replay it no longer has.
  source.addEventListener('missed', (event) => {
    demo.missed = JSON.parse(event.data);
  });
  return source;
}
// ANCHOR_END: eventsource

function showQuote({ symbol, price, change }) {
  const body = $('#quotes tbody');
  let row = body.querySelector(`tr[data-symbol="${symbol}"]`);
  if (!row) {
    row = document.createElement('tr');
    row.dataset.symbol = symbol;
    row.append(cell(symbol), cell(''), cell(''));
    body.append(row);
  }
  row.cells[1].textContent = price.toFixed(2);
  row.cells[2].textContent = (change > 0 ? '+' : '') + change.toFixed(2);
  row.cells[2].className = change > 0 ? 'up' : change < 0 ? 'down' : '';
  row.classList.add('flash');
  setTimeout(() => row.classList.remove('flash'), 300);
}

function cell(text) {
  const td = document.createElement('td');
  td.textContent = text;
  return td;
}

// ---------------------------------------------------------------- chat

// ANCHOR: websocket
// The chat: a WebSocket. Unlike EventSource it never reconnects by
// itself, so the page does: after any close it did not ask for, it waits
// (doubling the wait up to 10 s) and opens a new socket.
function connectChat(nick) {
  let socket = null;
  let delay = 500;
  let stopped = false;
  const open = () => {
    setState('chat-state', demo.chatStates, socket ? 'reconnecting' : 'connecting');
    const url = wsUrl('/chat');
    url.searchParams.set('nick', nick);
    socket = new WebSocket(url);
    socket.onopen = () => {
      delay = 500;
      setState('chat-state', demo.chatStates, 'open');
    };
    socket.onmessage = (event) => {
      demo.chatLines.push(event.data);
      showChatLine(event.data);
    };
    socket.onclose = (event) => {
      if (stopped) {
        setState('chat-state', demo.chatStates, 'closed');
        return;
      }
      demo.lastChatClose = { code: event.code, reason: event.reason, wasClean: event.wasClean };
      setState('chat-state', demo.chatStates, 'reconnecting');
      setTimeout(open, delay);
      delay = Math.min(delay * 2, 10000);
    };
  };
  open();
  return {
    send(text) {
      if (socket.readyState !== WebSocket.OPEN) return false;
      socket.send(text);
      return true;
    },
    close() {
      stopped = true;
      socket.close(1000, 'bye');
    },
  };
}
// ANCHOR_END: websocket

function showChatLine(line) {
  const log = $('#chat-log');
  const li = document.createElement('li');
  li.textContent = line;
  if (line.startsWith('* ')) li.className = 'notice';
  log.append(li);
  log.scrollTop = log.scrollHeight;
}

// ---------------------------------------------------------------- fetch reader

// ANCHOR: fetch_reader
// An event-stream reader on fetch(): what an EventSource polyfill does.
// It can send any header (EventSource cannot: no Authorization, nothing),
// use any method, and read a stream that is not same-origin-with-cookies.
// The parsing follows the same rules as the browser's own (WHATWG HTML,
// "Interpreting an event stream"): UTF-8 with one leading BOM dropped,
// lines ended by CRLF, LF or a lone CR, `:` comments, `field: value` with
// one leading space removed, and an event dispatched at each empty line.
//
// Resolves when the stream ends, with what a reconnect needs.
async function readEventStream(url, { headers = {}, lastEventId = '', signal, onOpen, onEvent } = {}) {
  const sent = { Accept: 'text/event-stream', ...headers };
  if (lastEventId) sent['Last-Event-ID'] = lastEventId;
  const response = await fetch(url, { headers: sent, signal, cache: 'no-store' });
  const type = response.headers.get('Content-Type') || '';
  if (response.status !== 200 || !type.toLowerCase().startsWith('text/event-stream')) {
    throw new Error(`not an event stream: ${response.status} ${type}`);
  }
  if (onOpen) onOpen(response);

  const state = { lastEventId, retry: null };
  let idBuffer = lastEventId;
  let eventType = '';
  let data = '';
  const processLine = (line) => {
    if (line === '') {
      // Dispatch. The last event ID is updated even if nothing fires.
      state.lastEventId = idBuffer;
      if (data !== '') {
        onEvent({ type: eventType || 'message', data: data.slice(0, -1), lastEventId: idBuffer });
      }
      data = '';
      eventType = '';
      return;
    }
    if (line.startsWith(':')) return; // a comment
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'event') eventType = value;
    else if (field === 'data') data += value + '\n';
    else if (field === 'id' && !value.includes('\0')) idBuffer = value;
    else if (field === 'retry' && /^[0-9]+$/.test(value)) state.retry = Number(value);
    // Any other field is ignored.
  };

  // TextDecoderStream decodes UTF-8 across chunk boundaries, replaces bad
  // bytes with U+FFFD and drops one leading BOM: the spec's decoding.
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  const MAX_LINE = 1 << 20; // bounded memory: a line longer than 1 MiB ends the stream
  let partial = '';
  let afterCR = false; // a CR ended the last line: skip an LF right after it
  for (;;) {
    const { value: chunk, done } = await reader.read();
    if (done) break;
    let start = 0;
    for (let i = 0; i < chunk.length; i++) {
      const c = chunk.charCodeAt(i);
      if (afterCR && c === 10 && i === start) {
        afterCR = false;
        start = i + 1;
        continue;
      }
      afterCR = false;
      if (c === 10 || c === 13) {
        processLine(partial + chunk.slice(start, i));
        partial = '';
        afterCR = c === 13;
        start = i + 1;
      }
    }
    partial += chunk.slice(start);
    if (partial.length > MAX_LINE || data.length > MAX_LINE) {
      await reader.cancel();
      throw new Error('event stream line or event too long');
    }
  }
  // An event not ended by an empty line is discarded, as the spec says.
  return state;
}

// Reconnects like EventSource: after the stream ends or fails, wait for
// the server's `retry` (3 s if it sent none) and resume with Last-Event-ID.
function fetchEventSource(url, { headers = {}, onEvent, onState = () => {} } = {}) {
  const controller = new AbortController();
  let lastEventId = '';
  let retry = 3000;
  const loop = async () => {
    while (!controller.signal.aborted) {
      onState('connecting');
      try {
        const end = await readEventStream(url, {
          headers,
          lastEventId,
          signal: controller.signal,
          onOpen: () => onState('open'),
          onEvent: (event) => {
            lastEventId = event.lastEventId;
            onEvent(event);
          },
        });
        lastEventId = end.lastEventId;
        if (end.retry !== null) retry = end.retry;
      } catch (err) {
        if (controller.signal.aborted) break;
      }
      onState('reconnecting');
      await new Promise((resolve) => setTimeout(resolve, retry));
    }
    onState('closed');
  };
  loop();
  return { close: () => controller.abort() };
}
// ANCHOR_END: fetch_reader

// ---------------------------------------------------------------- wire view

function fromBase64(b64) {
  const text = atob(b64);
  const bytes = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i);
  return bytes;
}

const utf8 = new TextDecoder();
const hex = (bytes) => Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join(' ');

// ANCHOR: wire_view
// The wire view is fed by the server: `GET /wire` is itself an event
// stream, one `wire` event per read or write on a tapped connection, with
// the raw bytes in base64 and, for WebSockets, each frame header as the
// crate's decoder read it.
function connectWire() {
  const source = new EventSource(withView('/wire'));
  const states = [];
  setState('wire-state', states, 'connecting');
  source.onopen = () => setState('wire-state', states, 'open');
  source.onerror = () => setState('wire-state', states, 'reconnecting');
  source.addEventListener('wire', (event) => {
    const record = JSON.parse(event.data);
    demo.wire.push(record);
    if (demo.wire.length > WIRE_KEEP) demo.wire.splice(0, demo.wire.length - WIRE_KEEP);
    if (!$('#wire-paused').checked) showRecord(record);
  });
  source.addEventListener('lagged', (event) => {
    demo.wireLagged += Number(event.data);
  });
  return source;
}

function describeFrame(frame) {
  const bits = `FIN=${frame.fin ? 1 : 0} opcode=0x${frame.op.toString(16)} (${frame.opcode})`;
  const mask = frame.mask ? `MASK=1 key=${frame.mask}` : 'MASK=0';
  let payload = '';
  const bytes = fromBase64(frame.payload);
  if (frame.opcode === 'text' || frame.opcode === 'continuation') {
    payload = JSON.stringify(utf8.decode(bytes));
  } else if (frame.opcode === 'close' && bytes.length >= 2) {
    payload = `code ${(bytes[0] << 8) | bytes[1]} ${JSON.stringify(utf8.decode(bytes.slice(2)))}`;
  } else {
    payload = hex(bytes.slice(0, 48)) + (bytes.length > 48 ? ' …' : '');
  }
  const cut = frame.cut ? ` (first ${bytes.length} of ${frame.len} bytes)` : '';
  return `[${frame.head.replace(/(..)/g, '$1 ').trim()}] ${bits} ${mask} len=${frame.len}\n  payload${cut}: ${payload}`;
}
// ANCHOR_END: wire_view

function showRecord(record) {
  const li = document.createElement('li');
  li.className = record.dir;
  li.dataset.conn = record.conn;
  const arrow = record.dir === 'out' ? 'server → browser' : 'browser → server';
  const what = document.createElement('div');
  what.className = 'what';
  what.textContent = `#${record.conn} ${record.proto.toUpperCase()} ${record.path}  ${arrow}  ${record.kind}` +
    (record.len ? `  ${record.len} bytes` : '');
  li.append(what);
  const pre = document.createElement('pre');
  const bytes = fromBase64(record.b64);
  if (record.kind === 'request') {
    pre.textContent = record.lines.join('\n');
  } else if (record.kind === 'head' || (record.proto === 'sse' && record.kind === 'data')) {
    // Text on the wire: show it line by line, line feeds made visible.
    const text = utf8.decode(bytes);
    pre.textContent = '';
    for (const piece of text.split('\n').entries()) {
      const [i, line] = piece;
      if (i > 0) {
        const eol = document.createElement('span');
        eol.className = 'eol';
        eol.textContent = '⏎\n';
        pre.append(eol);
      }
      pre.append(line.length > 400 ? line.slice(0, 400) + ' …' : line);
    }
    if (record.cut) pre.append(` … (${record.len - bytes.length} more bytes)`);
  } else if (record.kind === 'data') {
    pre.className = 'frame';
    const lines = record.frames.map(describeFrame);
    if (record.framesOmitted) lines.push(`… and ${record.framesOmitted} more frames`);
    if (lines.length === 0) lines.push(`(payload bytes of a frame that ends later: ${hex(bytes.slice(0, 16))} …)`);
    if (record.frameError) lines.push(`not a valid frame: ${record.frameError}`);
    pre.textContent = lines.join('\n');
  } else {
    pre.textContent = record.kind === 'eof' ? '(the browser closed its side)' : '(connection closed)';
  }
  li.append(pre);
  const log = $('#wire-log');
  log.prepend(li);
  while (log.children.length > WIRE_SHOWN) log.lastElementChild.remove();
}

// ---------------------------------------------------------------- demos for the tests

// The same 4 KiB over both protocols. Resolves with the bytes received.
demo.blobOverSse = () =>
  new Promise((resolve, reject) => {
    const source = new EventSource(withView('/blob/sse'));
    source.addEventListener('blob', (event) => {
      source.close();
      resolve({ bytes: Array.from(fromBase64(event.data)), dataChars: event.data.length });
    });
    source.onerror = () => {
      source.close();
      reject(new Error('blob stream failed'));
    };
  });

demo.blobOverWebSocket = () =>
  new Promise((resolve, reject) => {
    const url = wsUrl('/blob/ws');
    const socket = new WebSocket(url);
    socket.binaryType = 'arraybuffer';
    let bytes = null;
    socket.onmessage = (event) => {
      bytes = Array.from(new Uint8Array(event.data));
    };
    socket.onclose = (event) =>
      bytes ? resolve({ bytes, code: event.code, wasClean: event.wasClean }) : reject(new Error('no message'));
  });

demo.readEventStream = readEventStream;
demo.fetchEventSource = fetchEventSource;
demo.connectTicker = connectTicker;
demo.connectChat = connectChat;
demo.connectWire = connectWire;

// ---------------------------------------------------------------- start

async function start() {
  $('#ticker-drop').addEventListener('click', async () => {
    await fetch('/ticker/drop', { method: 'POST' });
  });
  const nick = params.get('nick') || `guest${Math.floor(Math.random() * 1000)}`;
  $('#chat-nick').textContent = nick;
  if (params.has('manual')) return;
  demo.wireSource = connectWire();
  // Connect the rest once the wire view listens (or after 2 s without
  // it), so that it sees their connections from the first byte.
  await new Promise((resolve) => {
    demo.wireSource.addEventListener('open', resolve, { once: true });
    setTimeout(resolve, 2000);
  });
  demo.ticker = connectTicker();
  demo.chat = connectChat(nick);
  $('#chat-form').addEventListener('submit', (event) => {
    event.preventDefault();
    const input = $('#chat-input');
    if (input.value && demo.chat.send(input.value)) input.value = '';
  });
}

start();
