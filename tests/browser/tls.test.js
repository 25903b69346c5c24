// The demo over TLS, as a user reaches it on a public port: the binary
// started with a certificate made here (openssl, into a temporary
// directory: no key is committed), Chromium trusting exactly that key
// (--ignore-certificate-errors-spki-list), the page over https, the
// ticker's EventSource over https, the chat and an echo WebSocket over
// wss (a page served over https may not open ws: at all).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash, X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startServer, launchBrowser, openPage, waitInPage } from './harness.js';

const env = {};

before(async () => {
  env.dir = mkdtempSync(path.join(tmpdir(), 're-tls-'));
  const cert = path.join(env.dir, 'cert.pem');
  const key = path.join(env.dir, 'key.pem');
  // The README's one-liner: a self-signed P-256 certificate for
  // localhost and 127.0.0.1.
  execFileSync('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1',
    '-nodes', '-days', '1', '-subj', '/CN=localhost',
    '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1',
    '-addext', 'basicConstraints=critical,CA:FALSE',
    '-keyout', key, '-out', cert,
  ], { stdio: ['ignore', 'ignore', 'inherit'] });
  // What Chromium pins: base64 of the SHA-256 of the certificate's
  // SubjectPublicKeyInfo.
  const spki = new X509Certificate(readFileSync(cert)).publicKey.export({ type: 'spki', format: 'der' });
  const pin = createHash('sha256').update(spki).digest('base64');
  env.server = await startServer(['--tls-cert', cert, '--tls-key', key]);
  env.browser = await launchBrowser([`--ignore-certificate-errors-spki-list=${pin}`]);
});

after(async () => {
  await env.browser?.close();
  await env.server?.stop();
  if (env.dir) rmSync(env.dir, { recursive: true, force: true });
});

test('over https: the page loads, the ticker streams over https, the chat and an echo run over wss', async () => {
  assert.match(env.server.url, /^https:\/\/127\.0\.0\.1:\d+$/);
  const { context, page, errors } = await openPage(env.browser, `${env.server.url}/`);
  assert.equal(await page.evaluate(() => location.protocol), 'https:');
  await waitInPage(page, () => window.demo.quotes.length >= 2, null, { what: 'two quotes over https' });
  await waitInPage(page, () => document.getElementById('chat-state').dataset.state === 'open', null, {
    what: 'the chat over wss',
  });
  const echo = await page.evaluate(
    () =>
      new Promise((resolve, reject) => {
        const url = window.demo.wsUrl('/echo');
        const socket = new WebSocket(url);
        socket.onopen = () => socket.send('secret handshake');
        socket.onmessage = (e) => {
          resolve({ url: socket.url, data: e.data });
          socket.close(1000);
        };
        socket.onerror = () => reject(new Error('echo over wss failed'));
      }),
  );
  assert.match(echo.url, /^wss:\/\/127\.0\.0\.1:\d+\/echo/);
  assert.equal(echo.data, 'secret handshake');
  assert.deepEqual(errors, []);
  await context.close();
});
