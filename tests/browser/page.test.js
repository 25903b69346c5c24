// The page itself: it loads, its script and style are served by the
// binary, and the wire view is connected.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { useServerAndBrowser, openPage, waitInPage } from './harness.js';

const env = useServerAndBrowser();

test('GET / serves the page, its script and its style sheet', async () => {
  const { context, page, errors } = await openPage(env.browser, `${env.server.url}/`);
  assert.equal(await page.title(), 'realtime-events');
  const css = await page.request.get(`${env.server.url}/app.css`);
  assert.equal(css.headers()['content-type'], 'text/css; charset=utf-8');
  const js = await page.request.get(`${env.server.url}/app.js`);
  assert.equal(js.headers()['content-type'], 'text/javascript; charset=utf-8');
  // The script ran: it published its state and connected the wire view.
  await waitInPage(page, () => document.getElementById('wire-state').dataset.state === 'open', null, {
    what: 'the wire view to open',
  });
  assert.deepEqual(errors, []);
  await context.close();
});
