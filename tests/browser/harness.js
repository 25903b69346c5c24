// Shared by the browser tests: build and start the real binary on a free
// port, launch Debian's Chromium headless through playwright-core, and a
// few waiting helpers.
//
// Knobs (environment): REALTIME_EVENTS_BIN (a prebuilt binary; default:
// `cargo build` it), CHROMIUM (default /usr/bin/chromium).
import { spawn, execFileSync } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { before, after } from 'node:test';
import { chromium } from 'playwright-core';

const here = path.dirname(fileURLToPath(import.meta.url));
export const repoRoot = path.resolve(here, '..', '..');

let builtBinary = null;

// The binary cargo builds for this checkout (honours CARGO_TARGET_DIR):
// cargo prints the executable's path in its JSON messages.
export function binaryPath() {
  if (process.env.REALTIME_EVENTS_BIN) return process.env.REALTIME_EVENTS_BIN;
  if (builtBinary) return builtBinary;
  const out = execFileSync(
    'cargo',
    ['build', '--quiet', '--bin', 'realtime-events', '--message-format=json'],
    { cwd: repoRoot, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 64 << 20 },
  );
  for (const line of out.split('\n')) {
    if (!line.startsWith('{')) continue;
    const msg = JSON.parse(line);
    if (msg.reason === 'compiler-artifact' && msg.target?.name === 'realtime-events' && msg.executable) {
      builtBinary = msg.executable;
    }
  }
  if (!builtBinary) throw new Error('cargo did not report the realtime-events executable');
  return builtBinary;
}

// Starts the server on 127.0.0.1:0 (with `args`, e.g. the TLS flags) and
// waits for its `listening on` line.
export async function startServer(args = []) {
  const child = spawn(binaryPath(), ['--addr', '127.0.0.1:0', ...args], {
    cwd: repoRoot,
    env: { ...process.env, RUST_LOG: process.env.RUST_LOG || 'warn' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const lines = createInterface({ input: child.stdout });
  const url = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('server did not start in 30 s')), 30000);
    child.once('exit', (code) => reject(new Error(`server exited with ${code}`)));
    lines.on('line', (line) => {
      const m = /^listening on (https?:\/\/\S+)$/.exec(line);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
  });
  const port = Number(new URL(url).port);
  return {
    url, // http://127.0.0.1:PORT (https:// with TLS)
    port,
    stop: () =>
      new Promise((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', resolve);
        child.kill('SIGINT'); // graceful: the server's Ctrl-C path
        setTimeout(() => child.kill('SIGKILL'), 5000).unref();
      }),
  };
}

// The flags a shared CI box needs; playwright's launch() already uses a
// fresh temporary profile (user data dir) for every browser.
export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export async function launchBrowser(extraArgs = []) {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: [...CHROMIUM_ARGS, ...extraArgs],
  });
}

// The server and the browser most test files share: started before the
// file's first test, stopped after its last. Read them as `env.server` and
// `env.browser` inside tests (they do not exist before then); `setup`, if
// given, runs once both are up, in the same hook, since node:test does not
// promise that root hooks registered apart run one after the other.
export function useServerAndBrowser(setup) {
  const env = {};
  before(async () => {
    env.server = await startServer();
    env.browser = await launchBrowser();
    await setup?.(env);
  });
  after(async () => {
    await env.browser?.close();
    await env.server?.stop();
  });
  return env;
}

// A new context (its own cookies, cache and connection pool) and a page
// on `url`, with page errors collected so tests can assert there were none.
export async function openPage(browser, url) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (err) => errors.push(String(err)));
  await page.goto(url);
  return { context, page, errors };
}

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// Evaluates `fn` in the page until it returns something truthy.
export async function waitInPage(page, fn, arg, { timeout = 15000, what = 'condition' } = {}) {
  try {
    const handle = await page.waitForFunction(fn, arg, { timeout, polling: 50 });
    return await handle.jsonValue();
  } catch (err) {
    throw new Error(`timed out waiting for ${what}: ${err.message.split('\n')[0]}`);
  }
}
