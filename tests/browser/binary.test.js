// SSE is UTF-8 only: the same 4 KiB of every byte value, sent by the
// server over SSE as base64 and over a WebSocket as one binary message;
// both must arrive intact, and the wire view says what each cost.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { useServerAndBrowser, openPage, waitInPage } from './harness.js';

let page;
const env = useServerAndBrowser(async () => {
  ({ page } = await openPage(env.browser, `${env.server.url}/?manual`));
  await page.evaluate(() => {
    window.demo.wireSource = window.demo.connectWire();
  });
  await waitInPage(page, () => document.getElementById('wire-state').dataset.state === 'open', null, {
    what: 'the wire view',
  });
});

const BLOB = Array.from({ length: 4096 }, (_, i) => i % 256);

// The server's writes on connections to `path` (after the head), once
// they add up to at least `atLeast` bytes: one message may take several.
const wireWrites = (path, atLeast) =>
  waitInPage(
    page,
    ([path, atLeast]) => {
      const out = window.demo.wire.filter((r) => r.path === path && r.dir === 'out' && r.kind === 'data');
      return out.reduce((n, r) => n + r.len, 0) >= atLeast && out;
    },
    [path, atLeast],
    { what: `${atLeast} bytes to ${path} on the wire view` },
  );

test('binary over SSE: 4 KiB of every byte value as base64 arrives intact', async (t) => {
  const got = await page.evaluate(() => window.demo.blobOverSse());
  assert.deepEqual(got.bytes, BLOB);
  // What crossed the wire, as the server's tap saw it.
  const body = (await wireWrites('/blob/sse', 4096)).reduce((n, r) => n + r.len, 0);
  // event: blob\n id: 1\n data: <5464 base64 chars>\n \n
  assert.equal(got.dataChars, 5464);
  assert.equal(body, 'event: blob\n'.length + 'id: 1\n'.length + 'data: '.length + 5464 + 2);
  t.diagnostic(`SSE: 4096 payload bytes took ${body} bytes on the wire (+${((body / 4096 - 1) * 100).toFixed(1)}%)`);
});

test('binary over WebSocket: the same 4 KiB as one binary message arrives intact', async (t) => {
  const got = await page.evaluate(() => window.demo.blobOverWebSocket());
  assert.deepEqual(got.bytes, BLOB);
  assert.equal(got.code, 1000);
  assert.equal(got.wasClean, true);
  const writes = await wireWrites('/blob/ws', 4100);
  const frame = writes.flatMap((r) => r.frames).find((f) => f.opcode === 'binary');
  assert.equal(frame.len, 4096);
  assert.equal(frame.mask, null, 'a server never masks');
  const onWire = frame.head.length / 2 + frame.len;
  assert.equal(onWire, 4100, '126-form length: a 4-byte header');
  t.diagnostic(`WebSocket: 4096 payload bytes took ${onWire} bytes on the wire (+${((onWire / 4096 - 1) * 100).toFixed(1)}%)`);
});
