// Shared set-up for the browser tests: the system Chromium (installed by .ci/run from the
// distribution's packages), started headless with the flags this closed network needs.
import { chromium } from 'playwright-core';
import { mkdirSync } from 'node:fs';
import { execFileSync } from 'node:child_process';

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
