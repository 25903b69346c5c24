// Origin checks, with a page from another origin: a second server on
// another port serves the same page, and that page tries to use the
// first server. The browser sends its true Origin; the server decides.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, launchBrowser, openPage, waitInPage, sleep } from './harness.js';

let server;
let other;
let browser;
before(async () => {
  [server, other] = await Promise.all([startServer(), startServer()]);
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
  await Promise.all([server?.stop(), other?.stop()]);
});

test("another origin's page cannot open the chat nor read the ticker; our own page can", async () => {
  const tryBoth = (page, target) =>
    page.evaluate(
      (target) =>
        Promise.all([
          new Promise((resolve) => {
            const socket = new WebSocket(`${target.replace('http', 'ws')}/chat?nick=mallory`);
            socket.onopen = () => {
              socket.close(1000);
              resolve({ chat: 'open' });
            };
            socket.onclose = (e) => resolve({ chat: 'refused', code: e.code });
          }),
          new Promise((resolve) => {
            const source = new EventSource(`${target}/ticker`);
            source.addEventListener('quote', () => {
              source.close();
              resolve({ ticker: 'events' });
            });
            source.onerror = () => {
              // A CORS failure is final: CLOSED, not CONNECTING.
              if (source.readyState === EventSource.CLOSED) resolve({ ticker: 'blocked' });
            };
          }),
        ]),
      target,
    );
  const foreign = await openPage(browser, `${other.url}/?manual`);
  const [chat, ticker] = await tryBoth(foreign.page, server.url);
  // The handshake is answered 403, so the browser reports 1006 (no close frame).
  assert.deepEqual(chat, { chat: 'refused', code: 1006 });
  assert.deepEqual(ticker, { ticker: 'blocked' });
  await foreign.context.close();

  const own = await openPage(browser, `${server.url}/?manual`);
  assert.deepEqual(await tryBoth(own.page, server.url), [{ chat: 'open' }, { ticker: 'events' }]);
  await own.context.close();
});

test("another origin's page cannot make the server drop our streams", async () => {
  const own = await openPage(browser, `${server.url}/`);
  await waitInPage(own.page, () => window.demo.tickerOpens === 1 && window.demo.quotes.length > 0, null, {
    what: 'our ticker',
  });
  // A cross-origin form-like POST is sent without asking; only its answer
  // is hidden from the foreign page. The server must refuse it itself.
  const foreign = await openPage(browser, `${other.url}/?manual`);
  await foreign.page.evaluate((target) => fetch(`${target}/ticker/drop`, { method: 'POST', mode: 'no-cors' }), server.url);
  await sleep(2500); // a cut would have shown by now (retry is 1 s)
  const states = await own.page.evaluate(() => window.demo.tickerStates);
  assert.deepEqual(states, ['connecting', 'open']);
  // The status it got, seen from outside a browser (which may set Origin).
  const refused = await fetch(`${server.url}/ticker/drop`, { method: 'POST', headers: { Origin: other.url } });
  assert.equal(refused.status, 403);
  await foreign.context.close();
  await own.context.close();
});
