// WebSocket in the browser against /echo: text, a 1 MiB text, a 64 KiB
// binary ArrayBuffer byte for byte, a clean 1000 close; and the frames as
// the server's wire view decoded them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
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

test('echo: a short text, a 1 MiB text and a 64 KiB ArrayBuffer come back byte for byte; close 1000 is clean', async () => {
  const result = await page.evaluate(async () => {
    const { socket, echo } = await window.openEcho();
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
      shortOk: shortBack === short,
      bigOk: bigBack === big,
      bigLength: bigBack.length,
      binType: Object.prototype.toString.call(binBack.buffer),
      binLength: binBack.length,
      mismatches,
      closed,
    };
  });
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
  const find = (dir, opcode, len) => frames.find((f) => f.dir === dir && f.opcode === opcode && f.len === len);
  // Browser → server: masked, always. 64 KiB needs the 64-bit length form.
  const binIn = find('in', 'binary', 65536);
  assert.ok(binIn, JSON.stringify(frames.map(({ payload, ...f }) => f)));
  assert.equal(binIn.fin, true);
  assert.match(binIn.mask, /^[0-9a-f]{8}$/);
  assert.equal(binIn.head.length / 2, 14, '2 + 8 length bytes + 4 mask bytes');
  // Server → browser: never masked.
  const binOut = find('out', 'binary', 65536);
  assert.equal(binOut.mask, null);
  assert.equal(binOut.head.length / 2, 10);
  // The short text, unmasked by the tracker, reads as sent.
  const textIn = frames.find((f) => f.dir === 'in' && f.opcode === 'text' && !f.cut);
  assert.equal(Buffer.from(textIn.payload, 'base64').toString('utf8'), 'héllo, wörld 👋');
  // The 1 MiB text, as Chromium framed it: fragmented, a text frame with
  // FIN=0, continuation frames, the last with FIN=1, adding up to 1 MiB.
  const inbound = frames.filter((f) => f.dir === 'in');
  const first = inbound.findIndex((f) => f.opcode === 'text' && !f.fin);
  assert.ok(first >= 0, 'Chromium fragments a 1 MiB message');
  const last = inbound.findIndex((f, i) => i > first && f.opcode === 'continuation' && f.fin);
  const fragments = inbound.slice(first, last + 1);
  assert.ok(fragments.slice(1).every((f) => f.opcode === 'continuation'));
  assert.equal(fragments.reduce((n, f) => n + f.len, 0), 1 << 20);
  // Our server sends the echo back as one frame.
  assert.equal(find('out', 'text', 1 << 20).fin, true);
  // The close handshake: the browser's 1000 "done", the server's answer
  // 1000 with no reason.
  const closeOf = (dir) => Buffer.from(frames.find((f) => f.dir === dir && f.opcode === 'close').payload, 'base64');
  assert.equal(closeOf('in').readUInt16BE(0), 1000);
  assert.equal(closeOf('in').subarray(2).toString(), 'done');
  assert.equal(closeOf('out').readUInt16BE(0), 1000);
  t.diagnostic(
    `64 KiB binary: browser frame header ${binIn.head} (masked), server frame header ${binOut.head}; ` +
      `Chromium sent the 1 MiB text as ${fragments.length} frames of ${fragments.map((f) => f.len).join(', ')} bytes`,
  );
});
