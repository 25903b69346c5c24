// The event-stream parsing rules, as EventSource and the page's fetch()
// reader apply them to the same hand-written stream.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { useServerAndBrowser, openPage, waitInPage } from './harness.js';

const env = useServerAndBrowser();

// What src/app/samples.rs PARSING_RULES must produce, by the WHATWG rules.
const RULES_EVENTS = [
  { type: 'a', data: 'one\ntwo', lastEventId: '' },
  { type: 'message', data: ' leading space kept, lone CR line ends', lastEventId: '7' },
  { type: 'message', data: '', lastEventId: '7' },
  { type: 'b', data: 'x', lastEventId: '7' },
  { type: 'message', data: 'the id was reset', lastEventId: '' },
];

test('EventSource and the fetch() reader read a hand-written stream alike', async () => {
  const { context, page } = await openPage(env.browser, `${env.server.url}/?manual`);
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
