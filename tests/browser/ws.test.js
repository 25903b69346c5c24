// WebSocket in the browser against /echo: Chromium negotiates
// permessage-deflate; text, a 1 MiB text, a 64 KiB binary ArrayBuffer
// come back byte for byte, a clean 1000 close; and the frames as the
// server's wire view decoded them (compressed: RSV1 set).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { inflateRawSync } from 'node:zlib';
import { useServerAndBrowser, openPage, waitInPage } from './harness.js';

let page;
const env = useServerAndBrowser(async () => {
  ({ page } = await openPage(env.browser, `${env.server.url}/?manual`));
  await page.evaluate(() => {
    window.demo.wireSource = window.demo.connectWire();
    // One echo socket for the whole file; `echo(x)` sends x and resolves
    // with the next message.
    window.openEcho = () =>
      new Promise((resolve, reject) => {
        // With the page's view id, so the wire view shows this socket.
        const url = window.demo.withView('/echo');
        url.protocol = 'ws:';
        const socket = new WebSocket(url);
        socket.binaryType = 'arraybuffer';
        const waiting = [];
        socket.onmessage = (e) => waiting.shift()?.(e.data);
        socket.onopen = () =>
          resolve({
            socket,
            extensions: socket.extensions,
            echo: (data) =>
              new Promise((r) => {
                waiting.push(r);
                socket.send(data);
              }),
          });
        socket.onerror = () => reject(new Error('echo socket failed'));
      });
  });
  await waitInPage(page, () => document.getElementById('wire-state').dataset.state === 'open', null, {
    what: 'the wire view',
  });
});

test('echo: compression is negotiated; a short text, a 1 MiB text and a 64 KiB ArrayBuffer come back byte for byte; close 1000 is clean', async () => {
  const result = await page.evaluate(async () => {
    const { socket, extensions, echo } = await window.openEcho();
    const short = 'héllo, wörld 👋';
    const shortBack = await echo(short);
    let big = '';
    const alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789';
    while (big.length < 1 << 20) big += alphabet;
    big = big.slice(0, 1 << 20);
    const bigBack = await echo(big);
    const bytes = new Uint8Array(64 * 1024);
    for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 31 + (i >> 8)) & 0xff;
    const binBack = new Uint8Array(await echo(bytes.buffer));
    let mismatches = 0;
    for (let i = 0; i < bytes.length; i++) if (binBack[i] !== bytes[i]) mismatches++;
    const closed = await new Promise((resolve) => {
      socket.onclose = (e) => resolve({ code: e.code, reason: e.reason, wasClean: e.wasClean });
      socket.close(1000, 'done');
    });
    return {
      extensions,
      shortOk: shortBack === short,
      bigOk: bigBack === big,
      bigLength: bigBack.length,
      binType: Object.prototype.toString.call(binBack.buffer),
      binLength: binBack.length,
      mismatches,
      closed,
    };
  });
  // What the server's 101 agreed to, as Chromium reports it.
  assert.match(result.extensions, /^permessage-deflate(;|$)/);
  assert.equal(result.shortOk, true);
  assert.equal(result.bigOk, true);
  assert.equal(result.bigLength, 1 << 20);
  assert.equal(result.binType, '[object ArrayBuffer]');
  assert.equal(result.binLength, 65536);
  assert.equal(result.mismatches, 0);
  // The close event reports the server's close frame: 1000, and our echo
  // server answers without a reason.
  assert.deepEqual(result.closed, { code: 1000, reason: '', wasClean: true });
});

test('the wire view shows the frames as ws::FrameHeader::decode read them', async (t) => {
  const frames = await waitInPage(
    page,
    () => {
      const all = window.demo.wire
        .filter((r) => r.path === '/echo' && r.kind === 'data')
        .flatMap((r) => r.frames.map((f) => ({ dir: r.dir, ...f })));
      return all.some((f) => f.opcode === 'close' && f.dir === 'out') && all;
    },
    null,
    { what: 'the echo close frame on the wire view' },
  );
  const find = (dir, opcode) => frames.find((f) => f.dir === dir && f.opcode === opcode);
  const headLen = (f) => 2 + (f.len < 126 ? 0 : f.len < 65536 ? 2 : 8) + (f.mask ? 4 : 0);
  // Browser → server: masked, always, and compressed: RSV1 on every data
  // message Chromium sends, with a payload shorter than the message.
  const binIn = find('in', 'binary');
  assert.ok(binIn, JSON.stringify(frames.map(({ payload, ...f }) => f)));
  assert.equal(binIn.fin, true);
  assert.equal(binIn.rsv1, true);
  assert.ok(binIn.len < 65536, `64 KiB compressed to ${binIn.len} bytes`);
  assert.match(binIn.mask, /^[0-9a-f]{8}$/);
  assert.equal(binIn.head.length / 2, headLen(binIn));
  // Server → browser: never masked; compressed too (over our threshold).
  const binOut = find('out', 'binary');
  assert.equal(binOut.mask, null);
  assert.equal(binOut.rsv1, true);
  assert.equal(binOut.head.length / 2, headLen(binOut));
  // The short text is Chromium's first message: it inflates on its own,
  // once the removed 00 00 ff ff is put back.
  const textIn = frames.find((f) => f.dir === 'in' && f.opcode === 'text' && !f.cut);
  assert.equal(textIn.rsv1, true);
  const inflated = inflateRawSync(Buffer.concat([Buffer.from(textIn.payload, 'base64'), Buffer.from([0, 0, 0xff, 0xff])]), {
    finishFlush: 2, // Z_SYNC_FLUSH: the message has no end-of-stream block
  });
  assert.equal(inflated.toString('utf8'), 'héllo, wörld 👋');
  // The 1 MiB text of a repeated alphabet shrinks to a few KiB each way.
  const bigIn = frames.find((f) => f.dir === 'in' && f.opcode === 'text' && f !== textIn);
  const bigOut = frames.filter((f) => f.dir === 'out' && f.opcode === 'text').at(-1);
  assert.ok(bigIn.rsv1 && bigIn.len < 64 * 1024, `1 MiB text in as ${bigIn.len} bytes`);
  assert.ok(bigOut.rsv1 && bigOut.fin && bigOut.len < 64 * 1024, `1 MiB text out as ${bigOut.len} bytes`);
  // The close handshake: the browser's 1000 "done", the server's answer
  // 1000 with no reason.
  const closeOf = (dir) => Buffer.from(frames.find((f) => f.dir === dir && f.opcode === 'close').payload, 'base64');
  assert.equal(closeOf('in').readUInt16BE(0), 1000);
  assert.equal(closeOf('in').subarray(2).toString(), 'done');
  assert.equal(closeOf('out').readUInt16BE(0), 1000);
  t.diagnostic(
    `permessage-deflate: 64 KiB binary in ${binIn.len} bytes (browser), out ${binOut.len} bytes (server); ` +
      `1 MiB text in ${bigIn.len} bytes, out ${bigOut.len} bytes`,
  );
});
