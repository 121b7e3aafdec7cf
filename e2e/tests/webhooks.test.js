// Webhooks in a real browser against a real `tally serve`: an owner adds an endpoint in the
// console (its secret shown once) and sends a test event; a member joins through the API. A
// real HTTP server on loopback receives both, and the `standardwebhooks` package from PyPI
// (installed by .ci/run) verifies their signatures with the secret the console showed. The
// page then shows them delivered. Every page visited passes axe-core.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { launch, baseUrl, viewports, tally, seriousA11yViolations, receiver } from './browser.js';

const pythonPath = process.env.TALLY_STANDARDWEBHOOKS;

test('an owner adds a webhook endpoint and what it receives verifies with standardwebhooks', { skip: !pythonPath && 'set TALLY_STANDARDWEBHOOKS (.ci/run does)', timeout: 90000 }, async () => {
  const shop = `webhooks-e2e-${Date.now()}`;
  tally('tenants', 'create', shop);
  const program = JSON.parse(tally('programs', 'create', '--tenant', shop, '--name', 'Corner Café', '--currency', 'EUR')).id;
  const key = JSON.parse(tally('keys', 'create', '--tenant', shop, '--scope', 'admin')).secret;
  const invite = tally('operators', 'create', '--tenant', shop, '--email', `owner@${shop}.example`,
    '--name', 'Wiktor Webhooks', '--role', 'owner', '--base-url', baseUrl)
    .match(/https?:\/\/\S+\/console\/link\/[0-9a-f]{64}/)[0];
  const erp = await receiver('/hooks', 204);
  const browser = await launch();
  try {
    const page = await browser.newPage({ viewport: viewports.desktop });
    await page.goto(invite);
    await page.locator('#password').fill('a long enough password');
    await page.locator('#password_again').fill('a long enough password');
    await page.getByRole('button', { name: 'Continue' }).click();
    await page.waitForURL(/\/dashboard$/);
    await page.getByRole('link', { name: 'Webhooks' }).click();
    await page.getByRole('heading', { name: 'New endpoint' }).waitFor();
    await page.locator('#url').fill(erp.url);
    await page.locator('#description').fill('ERP');
    await page.getByLabel(/member\.enrolled/).check();
    await page.getByRole('button', { name: 'Add endpoint' }).click();
    const secret = (await page.locator('#shown-once').innerText()).trim();
    assert.match(secret, /^whsec_/);
    assert.deepEqual(await seriousA11yViolations(page), [], 'webhooks page: accessibility violations');
    await page.getByRole('button', { name: 'Send a test event' }).click();

    const joined = await fetch(`${baseUrl}/api/v1/programs/${program}/members`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${key}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ name: 'Olek Nowak' }),
    });
    assert.equal(joined.status, 201);

    // The deliverer works every second or so.
    for (let i = 0; i < 30 && erp.received.length < 2; i++) await new Promise((r) => setTimeout(r, 500));
    assert.equal(erp.received.length, 2, JSON.stringify(erp.received));
    const file = join(mkdtempSync(join(tmpdir(), 'tally-webhooks-')), 'received.json');
    writeFileSync(file, JSON.stringify(erp.received.map((r) => ({ headers: r.headers, body: r.body.toString('utf8') }))));
    const verified = execFileSync('python3', [new URL('../python/verify_webhooks.py', import.meta.url).pathname, secret, file], {
      encoding: 'utf8', env: { ...process.env, PYTHONPATH: pythonPath },
    });
    assert.deepEqual(JSON.parse(verified).sort(), ['member.enrolled', 'webhook.test']);

    await page.reload();
    const deliveries = page.locator('table.deliveries tbody tr');
    assert.equal(await deliveries.count(), 2);
    assert.equal(await page.locator('tr.delivery-delivered').count(), 2);
  } finally {
    await browser.close();
    erp.server.close();
  }
});
