// The ticker over EventSource: named events with ids, a server-side cut
// that the browser recovers from by itself with Last-Event-ID (gapless, no
// duplicates), and the fetch() reader on the same stream with a header
// EventSource cannot send.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { useServerAndBrowser, openPage, waitInPage, sleep } from './harness.js';

const env = useServerAndBrowser();

// Ids are consecutive decimal numbers: the hub's promise, and the test of
// "no gap, no duplicate".
function assertConsecutive(ids, what) {
  const numbers = ids.map(Number);
  assert.ok(numbers.length > 0, `${what}: no events`);
  for (let i = 1; i < numbers.length; i++) {
    assert.equal(numbers[i], numbers[0] + i, `${what}: id ${numbers[i]} at position ${i} after ${numbers[0]}`);
  }
}

test('named quote events carry lastEventId; a server-side cut is healed by the browser with Last-Event-ID', async (t) => {
  const { context, page, errors } = await openPage(env.browser, `${env.server.url}/`);
  await waitInPage(page, () => window.demo.quotes.length >= 4, null, { what: 'four quotes' });
  const first = await page.evaluate(() => window.demo.quotes.slice());
  for (const q of first) {
    assert.match(q.id, /^[0-9]+$/);
    assert.ok(['ACME', 'GLOBEX', 'INITECH'].includes(q.symbol), q.symbol);
    assert.equal(typeof q.price, 'number');
  }
  // The page shows them.
  assert.equal(await page.locator('#quotes tbody tr').count() > 0, true);

  // Cut every ticker stream from the server side (the page's button).
  const before = await page.evaluate(() => ({ opens: window.demo.tickerOpens, quotes: window.demo.quotes.length }));
  assert.equal(before.opens, 1);
  await page.click('#ticker-drop');
  const cutAt = Date.now();
  await waitInPage(page, () => window.demo.tickerStates.includes('reconnecting'), null, {
    what: 'the browser to notice the cut',
  });
  await waitInPage(page, () => window.demo.tickerOpens === 2, null, { what: 'the browser to reconnect by itself' });
  const reconnectMs = Date.now() - cutAt;
  const n = before.quotes;
  await waitInPage(page, (n) => window.demo.quotes.length >= n + 6, n, { what: 'quotes after the reconnect' });
  const quotes = await page.evaluate(() => window.demo.quotes.map((q) => q.id));
  assertConsecutive(quotes, 'quote ids across the cut');
  assert.equal(new Set(quotes).size, quotes.length, 'no duplicates');

  // The second request carried Last-Event-ID: as the server parsed it.
  const requests = await page.evaluate(() =>
    window.demo.wire.filter((r) => r.path === '/ticker' && r.kind === 'request').map((r) => r.lines),
  );
  assert.equal(requests.length, 2, 'two /ticker requests seen by the wire view');
  const header = (lines, name) =>
    lines.find((l) => l.toLowerCase().startsWith(`${name}:`))?.slice(name.length + 1).trim();
  assert.equal(header(requests[0], 'last-event-id'), undefined, 'the first request has no Last-Event-ID');
  const resumedFrom = header(requests[1], 'last-event-id');
  // The last event the page had before the cut (maybe one more that was
  // already on its way) is what it resumed from.
  assert.ok(quotes.includes(resumedFrom), `Last-Event-ID ${resumedFrom} is an id the page saw`);
  assert.ok(Number(resumedFrom) >= Number(first.at(-1).id));
  t.diagnostic(`cut after id ${resumedFrom}; EventSource was open again ${reconnectMs} ms later; ` +
    `ids ${quotes[0]}..${quotes.at(-1)} without gap or duplicate`);
  assert.deepEqual(errors, []);
  await context.close();
});

test('the fetch() reader sends Authorization (redacted in the wire view) and receives the same events as EventSource', async () => {
  const { context, page } = await openPage(env.browser, `${env.server.url}/?manual`);
  await page.evaluate(() => {
    window.demo.wireSource = window.demo.connectWire();
  });
  await waitInPage(page, () => document.getElementById('wire-state').dataset.state === 'open', null, {
    what: 'the wire view',
  });
  await page.evaluate(() => {
    const viaEventSource = [];
    const viaFetch = [];
    // Tagged with this page's view id, so the wire view shows them.
    const source = new EventSource(window.demo.withView('/ticker'));
    source.addEventListener('quote', (e) => viaEventSource.push({ id: e.lastEventId, type: e.type, data: e.data }));
    const reader = window.demo.fetchEventSource(window.demo.withView('/ticker'), {
      headers: { Authorization: 'Bearer demo-token' },
      onEvent: (e) => viaFetch.push({ id: e.lastEventId, type: e.type, data: e.data }),
    });
    window.both = { viaEventSource, viaFetch, stop: () => (source.close(), reader.close()) };
  });
  await waitInPage(page, () => window.both.viaEventSource.length >= 8 && window.both.viaFetch.length >= 8, null, {
    what: 'eight events on each',
  });
  const { viaEventSource, viaFetch } = await page.evaluate(() => {
    window.both.stop();
    return { viaEventSource: window.both.viaEventSource, viaFetch: window.both.viaFetch };
  });
  assertConsecutive(viaEventSource.map((e) => e.id), 'EventSource');
  assertConsecutive(viaFetch.map((e) => e.id), 'fetch reader');
  const byId = new Map(viaEventSource.map((e) => [e.id, e]));
  const common = viaFetch.filter((e) => byId.has(e.id));
  assert.ok(common.length >= 5, `at least five events in common, got ${common.length}`);
  for (const e of common) assert.deepEqual(e, byId.get(e.id));
  assert.ok(viaFetch.every((e) => e.type === 'quote'));
  // The server received the header EventSource cannot send, and the wire
  // view shows that it came, never its value.
  const requests = await page.evaluate(() =>
    window.demo.wire.filter((r) => r.path === '/ticker' && r.kind === 'request').map((r) => r.lines),
  );
  const all = requests.flat().map((l) => l.toLowerCase());
  assert.ok(all.includes('authorization: [redacted]'), JSON.stringify(requests));
  assert.ok(!all.some((l) => l.includes('demo-token')), JSON.stringify(requests));
  await sleep(10);
  await context.close();
});
