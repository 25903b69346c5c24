// The HTTP/1.1 connection limit: Chromium opens at most six connections
// per host (scheme, host and port) and queues the rest. An EventSource
// holds its connection for as long as it lives, so the seventh waits.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { useServerAndBrowser, openPage, waitInPage, sleep } from './harness.js';

const env = useServerAndBrowser();

test('seven EventSources to one origin: six open, the seventh stays pending; the remedies', async (t) => {
  const { context, page } = await openPage(env.browser, `${env.server.url}/?manual`);
  const states = () =>
    page.evaluate(() => window.sources.map((s) => ({ readyState: s.readyState, events: s.events })));

  // ANCHOR: seven
  await page.evaluate(() => {
    window.sources = Array.from({ length: 7 }, (_, i) => {
      const source = new EventSource(`/ticker?stream=${i}`);
      source.events = 0;
      source.addEventListener('quote', () => (source.events += 1));
      return source;
    });
  });
  // ANCHOR_END: seven
  await waitInPage(page, () => window.sources.filter((s) => s.readyState === 1 && s.events > 0).length === 6, null, {
    what: 'six streams to open and deliver',
  });
  await sleep(3000); // plenty of quotes (one per 500 ms) for anyone connected
  const after3s = await states();
  const open = after3s.filter((s) => s.readyState === EventSource_OPEN);
  const pending = after3s.filter((s) => s.readyState === EventSource_CONNECTING);
  assert.equal(open.length, 6, JSON.stringify(after3s));
  assert.equal(pending.length, 1, JSON.stringify(after3s));
  assert.equal(pending[0].events, 0, 'the seventh received nothing');
  const waiting = after3s.findIndex((s) => s.readyState === EventSource_CONNECTING);

  // The whole origin is stuck, not only EventSource: a plain fetch waits too.
  const fetchOutcome = await page.evaluate(() =>
    Promise.race([
      fetch('/app.css', { cache: 'no-store' }).then(() => 'loaded'),
      new Promise((resolve) => setTimeout(() => resolve('still pending after 2 s'), 2000)),
    ]),
  );
  assert.equal(fetchOutcome, 'still pending after 2 s');

  // WebSockets are not in that pool: one opens while the six are held.
  const socketOpened = await page.evaluate(
    () =>
      new Promise((resolve) => {
        const socket = new WebSocket(`ws://${location.host}/echo`);
        const timer = setTimeout(() => resolve(false), 5000);
        socket.onopen = () => {
          clearTimeout(timer);
          socket.close(1000);
          resolve(true);
        };
      }),
  );
  assert.equal(socketOpened, true, 'a WebSocket opens beside six EventSources');

  // It is queued, not failed: close one, and the waiting one gets its socket.
  const closedAt = Date.now();
  await page.evaluate((waiting) => window.sources.find((s, i) => i !== waiting && s.readyState === 1).close(), waiting);
  await waitInPage(page, (i) => window.sources[i].readyState === 1 && window.sources[i].events > 0, waiting, {
    what: 'the seventh to open once a connection is free',
  });
  const queuedMs = Date.now() - closedAt;

  // Remedy 1: another origin has its own six. localhost is not 127.0.0.1
  // to the connection pool (nor to the same-origin policy: the ticker
  // answers with Access-Control-Allow-Origin for the demo's own origins).
  const otherOrigin = `http://localhost:${env.server.port}`;
  const viaLocalhost = await page.evaluate(
    (origin) =>
      new Promise((resolve) => {
        const source = new EventSource(`${origin}/ticker`);
        const timer = setTimeout(() => resolve({ opened: false, readyState: source.readyState }), 10000);
        source.addEventListener('quote', (e) => {
          clearTimeout(timer);
          source.close();
          resolve({ opened: true, id: e.lastEventId });
        });
      }),
    otherOrigin,
  );
  assert.equal(viaLocalhost.opened, true, JSON.stringify(viaLocalhost));
  assert.equal((await states()).filter((s) => s.readyState === 1).length, 6, 'still six open on 127.0.0.1');
  await page.evaluate(() => window.sources.forEach((s) => s.close()));

  // Remedy 2: one stream carrying several topics. The ticker's single
  // stream carries every symbol, so a page needs one connection, not one
  // per symbol.
  const symbols = await page.evaluate(
    () =>
      new Promise((resolve) => {
        const seen = new Set();
        const source = new EventSource('/ticker');
        source.addEventListener('quote', (e) => {
          seen.add(JSON.parse(e.data).symbol);
          if (seen.size === 3) {
            source.close();
            resolve([...seen].sort());
          }
        });
      }),
  );
  assert.deepEqual(symbols, ['ACME', 'GLOBEX', 'INITECH']);
  t.diagnostic(
    `7 EventSources on ${env.server.url}: 6 OPEN, #${waiting + 1} CONNECTING with 0 events after 3 s; ` +
      `a fetch() to the same origin pending too, a WebSocket not; #${waiting + 1} opened ${queuedMs} ms after one was closed; ` +
      `${otherOrigin} opened while 6 were open`,
  );
  await context.close();
});

const EventSource_CONNECTING = 0;
const EventSource_OPEN = 1;
