// The whole page as a user sees it: ticker quotes and chat messages
// appear, two browser contexts (two users) chat with each other, and a
// screenshot of it is taken. It goes to a temporary file, so running the
// tests leaves the tree clean; UPDATE_SCREENSHOT=1 writes the book's
// tutorial/src/img/demo.png instead (SCREENSHOT_OUT names any other path).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { mkdirSync, mkdtempSync, statSync } from 'node:fs';
import os from 'node:os';
import { useServerAndBrowser, openPage, waitInPage, repoRoot } from './harness.js';

const env = useServerAndBrowser();

const SCREENSHOT =
  process.env.SCREENSHOT_OUT ||
  (process.env.UPDATE_SCREENSHOT === '1'
    ? path.join(repoRoot, 'tutorial', 'src', 'img', 'demo.png')
    : path.join(mkdtempSync(path.join(os.tmpdir(), 'realtime-events-')), 'demo.png'));

test('two users chat across two browser contexts while quotes stream; screenshot for the book', async (t) => {
  const alice = await openPage(env.browser, `${env.server.url}/?nick=alice`);
  const bob = await openPage(env.browser, `${env.server.url}/?nick=bob`);
  for (const [who, { page }] of [['alice', alice], ['bob', bob]]) {
    await waitInPage(page, () => document.getElementById('chat-state').dataset.state === 'open', null, {
      what: `${who}'s chat to open`,
    });
    await waitInPage(page, () => document.getElementById('ticker-state').dataset.state === 'open', null, {
      what: `${who}'s ticker to open`,
    });
  }
  // Alice joined first, so she sees Bob arrive.
  await waitInPage(alice.page, () => window.demo.chatLines.includes('* bob joined'), null, { what: 'alice to see bob join' });

  await alice.page.fill('#chat-input', 'hi bob, ACME is moving');
  await alice.page.click('#chat-form button');
  await waitInPage(bob.page, () => window.demo.chatLines.includes('alice: hi bob, ACME is moving'), null, {
    what: "bob to get alice's message",
  });
  await bob.page.fill('#chat-input', 'saw it, thanks');
  await bob.page.press('#chat-input', 'Enter');
  await waitInPage(alice.page, () => window.demo.chatLines.includes('bob: saw it, thanks'), null, {
    what: "alice to get bob's reply",
  });
  // Each sees both lines, in the same order, on screen too.
  for (const { page } of [alice, bob]) {
    const lines = await page.locator('#chat-log li').allTextContents();
    const a = lines.indexOf('alice: hi bob, ACME is moving');
    const b = lines.indexOf('bob: saw it, thanks');
    assert.ok(a >= 0 && b > a, JSON.stringify(lines));
  }
  // Quotes on screen: one row per symbol, with a price.
  await waitInPage(alice.page, () => document.querySelectorAll('#quotes tbody tr').length === 3, null, {
    what: 'a quote for each of the three symbols',
  });
  const prices = await alice.page.locator('#quotes tbody td:nth-child(2)').allTextContents();
  for (const p of prices) assert.match(p, /^[0-9]+\.[0-9]{2}$/);
  // Bob's sent frame is on Alice's wire view, decoded: the page shows
  // every tapped connection (a demo; a real app would not share this).
  await waitInPage(
    alice.page,
    () =>
      window.demo.wire.some(
        (r) => r.path === '/chat' && r.dir === 'in' && r.frames?.some((f) => f.opcode === 'text' && f.mask),
      ),
    null,
    { what: 'a masked text frame from a browser on the wire view' },
  );

  mkdirSync(path.dirname(SCREENSHOT), { recursive: true });
  await alice.page.screenshot({ path: SCREENSHOT, fullPage: true });
  assert.ok(statSync(SCREENSHOT).size > 0, 'the screenshot was written');
  t.diagnostic(`screenshot written to ${SCREENSHOT}`);
  assert.deepEqual(alice.errors, []);
  assert.deepEqual(bob.errors, []);
  await alice.context.close();
  await bob.context.close();
});
