// Shared set-up for the browser tests: the system Chromium (installed by .ci/run from the
// distribution's packages), started headless with the flags this closed network needs.
import { chromium } from 'playwright-core';
import { mkdirSync, readFileSync, existsSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { createServer } from 'node:http';

export const baseUrl = process.env.TALLY_URL ?? 'http://127.0.0.1:8080';
export const artifacts = new URL('../artifacts/', import.meta.url).pathname;
mkdirSync(artifacts, { recursive: true });

export async function launch() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    args: [
      '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
    ],
  });
}

export const viewports = {
  phone: { width: 390, height: 844 },
  desktop: { width: 1280, height: 900 },
};

/// Runs the `tally` binary (for set-up such as creating a tenant and an API key).
export function tally(...args) {
  const bin = process.env.TALLY_BIN ?? 'tally';
  const database = process.env.TALLY_DATABASE;
  const full = database ? ['--database', database, ...args] : args;
  return execFileSync(bin, full, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/// Runs axe-core (the npm package, injected from disk: nothing is fetched) on the page and
/// returns its serious and critical violations, each as "rule: target".
export async function seriousA11yViolations(page) {
  const axe = new URL('../node_modules/axe-core/axe.min.js', import.meta.url).pathname;
  await page.addScriptTag({ path: axe });
  const result = await page.evaluate(async () => await window.axe.run(document, { resultTypes: ['violations'] }));
  return result.violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .flatMap((v) => v.nodes.map((n) => `${v.id} (${v.impact}): ${n.target.join(' ')} — ${v.help}`));
}

/// Where `tally smtp-sink` writes the mail it receives (.ci/run sets it).
export const mailbox = process.env.TALLY_MAIL_FILE;

/// The newest wallet sign-in code sent to `email`, waiting for it to arrive.
export async function codeFor(email) {
  for (let i = 0; i < 50; i++) {
    if (existsSync(mailbox)) {
      const lines = readFileSync(mailbox, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l));
      const mine = lines.filter((m) => m.to.includes(email));
      if (mine.length > 0) return mine[mine.length - 1].subject.match(/(\d{6})/)[1];
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`no email to ${email} in ${mailbox}`);
}

/// A real HTTP server on loopback standing in for a merchant's webhook endpoint or a push
/// service: it keeps every request (`headers`, and `body` as bytes) and answers `status`.
export async function receiver(path, status) {
  const received = [];
  const server = createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      received.push({ headers: req.headers, body: Buffer.concat(chunks) });
      res.writeHead(status).end();
    });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, received, url: `http://127.0.0.1:${server.address().port}${path}` };
}
