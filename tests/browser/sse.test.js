// Server-Sent Events in the browser: the parsing rules as EventSource and
// the page's fetch() reader apply them, and binary data (which SSE cannot
// carry as is) sent as base64.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, launchBrowser, openPage, waitInPage } from './harness.js';

let server;
let browser;
before(async () => {
  server = await startServer();
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
  await server?.stop();
});

// What src/app/samples.rs PARSING_RULES must produce, by the WHATWG rules.
const RULES_EVENTS = [
  { type: 'a', data: 'one\ntwo', lastEventId: '' },
  { type: 'message', data: ' leading space kept, lone CR line ends', lastEventId: '7' },
  { type: 'message', data: '', lastEventId: '7' },
  { type: 'b', data: 'x', lastEventId: '7' },
  { type: 'message', data: 'the id was reset', lastEventId: '' },
];

test('EventSource and the fetch() reader read a hand-written stream alike', async () => {
  const { context, page } = await openPage(browser, `${server.url}/?manual`);
  const { viaEventSource, viaFetch } = await page.evaluate(async (count) => {
    const viaEventSource = await new Promise((resolve) => {
      const got = [];
      const source = new EventSource('/sse/rules');
      const take = (e) => {
        got.push({ type: e.type, data: e.data, lastEventId: e.lastEventId });
        if (got.length === count) {
          source.close();
          resolve(got);
        }
      };
      for (const type of ['message', 'a', 'b']) source.addEventListener(type, take);
    });
    const viaFetch = await new Promise((resolve) => {
      const got = [];
      const controller = new AbortController();
      window.demo
        .readEventStream('/sse/rules', {
          signal: controller.signal,
          onEvent: (e) => {
            got.push(e);
            if (got.length === count) {
              controller.abort();
              resolve(got);
            }
          },
        })
        .catch(() => {});
    });
    return { viaEventSource, viaFetch };
  }, RULES_EVENTS.length);
  assert.deepEqual(viaEventSource, RULES_EVENTS);
  assert.deepEqual(viaFetch, RULES_EVENTS);
  await context.close();
});

test('binary over SSE: 4 KiB of every byte value as base64 arrives intact', async (t) => {
  const { context, page } = await openPage(browser, `${server.url}/?manual`);
  await page.evaluate(() => {
    window.demo.wireSource = window.demo.connectWire();
  });
  await waitInPage(page, () => document.getElementById('wire-state').dataset.state === 'open', null, {
    what: 'the wire view',
  });
  const got = await page.evaluate(() => window.demo.blobOverSse());
  const expected = Array.from({ length: 4096 }, (_, i) => i % 256);
  assert.deepEqual(got.bytes, expected);
  // What crossed the wire, as the server's tap saw it.
  const body = await waitInPage(
    page,
    () => {
      const out = window.demo.wire.filter((r) => r.path === '/blob/sse' && r.dir === 'out' && r.kind === 'data');
      return out.length > 0 && out.reduce((n, r) => n + r.len, 0);
    },
    null,
    { what: 'the blob stream on the wire view' },
  );
  // event: blob\n id: 1\n data: <5464 base64 chars>\n \n
  assert.equal(got.dataChars, 5464);
  assert.equal(body, 'event: blob\n'.length + 'id: 1\n'.length + 'data: '.length + 5464 + 2);
  t.diagnostic(`SSE: 4096 payload bytes took ${body} bytes on the wire (+${((body / 4096 - 1) * 100).toFixed(1)}%)`);
  await context.close();
});
