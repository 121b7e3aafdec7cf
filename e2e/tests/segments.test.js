// Segments and customer insights in a real browser against a real `tally serve`: an owner
// builds a segment and sees the live count change as they type (the builder's script), creates
// it, computes the customer insights from the dashboard, and reads a member's predictions.
// Every page visited passes axe-core with no serious or critical violation.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { launch, baseUrl, artifacts, viewports, tally, seriousA11yViolations } from './browser.js';

const shop = `segments-e2e-${Date.now()}`;
let program;
let jazzFan;

async function api(key, path, body) {
  const r = await fetch(`${baseUrl}/api/v1${path}`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${key}`, 'Content-Type': 'application/json' },
    body: JSON.stringify(body),
  });
  assert.ok(r.status < 300, `${path}: ${r.status} ${await r.clone().text()}`);
  return r.json();
}

before(async () => {
  tally('tenants', 'create', shop);
  program = JSON.parse(tally('programs', 'create', '--tenant', shop, '--name', 'Blue Note Corner', '--currency', 'USD', '--time-zone', 'America/New_York')).id;
  const key = JSON.parse(tally('keys', 'create', '--tenant', shop, '--scope', 'admin')).secret;
  jazzFan = (await api(key, `/programs/${program}/members`, { name: 'Jazz Jane' })).id;
  const rocker = (await api(key, `/programs/${program}/members`, { name: 'Rocky Rob' })).id;
  const day = 24 * 3600 * 1000;
  for (let k = 0; k < 6; k++) {
    for (const [member, category] of [[jazzFan, 'jazz'], [rocker, 'rock']]) {
      await api(key, `/programs/${program}/purchases`, {
        order_id: `${member}-${k}`,
        member: { id: member },
        total: { amount_minor: 2500, currency: 'USD' },
        lines: [{ sku: `${category}-1`, category, quantity: 1, unit_price_minor: 2500 }],
        occurred_at: new Date(Date.now() - (2 + 12 * k) * day).toISOString(),
      });
    }
  }
});

test('an owner builds a segment with a live count, computes insights and reads a prediction', async () => {
  const output = tally('operators', 'create', '--tenant', shop, '--email', `owner@${shop}.example`,
    '--name', 'Sam Segments', '--role', 'owner', '--base-url', baseUrl);
  const invite = output.match(/https?:\/\/\S+\/console\/link\/[0-9a-f]{64}/)[0];
  const browser = await launch();
  try {
    const page = await browser.newPage({ viewport: viewports.desktop });
    await page.goto(invite);
    await page.locator('#password').fill('a long enough password');
    await page.locator('#password_again').fill('a long enough password');
    await page.getByRole('button', { name: 'Continue' }).click();
    await page.waitForURL(/\/dashboard$/);

    await page.getByRole('link', { name: 'Segments' }).click();
    await page.getByRole('heading', { name: 'New segment' }).waitFor();
    assert.deepEqual(await seriousA11yViolations(page), [], 'segments page: accessibility violations');
    await page.locator('#name').fill('Jazz fans');
    await page.locator('#key').fill('jazz_fans');
    await page.locator('#row-0-field').selectOption('bought_category');
    await page.locator('#row-0-op').selectOption('has_any');
    await page.locator('#row-0-value').fill('jazz');
    // The script counts as the operator types: one of the two members buys jazz.
    await page.locator('#live-count', { hasText: '1 of 2 members match' }).waitFor();
    await page.locator('#row-1-field').selectOption('purchases');
    await page.locator('#row-1-op').selectOption('gte');
    await page.locator('#row-1-value').fill('many');
    await page.locator('#definition-errors', { hasText: 'Condition 2, value: must be a number' }).waitFor();
    await page.locator('#row-1-value').fill('3');
    await page.locator('#live-count', { hasText: '1 of 2 members match' }).waitFor();
    await page.screenshot({ path: `${artifacts}/console-segment-builder-desktop.png`, fullPage: true });
    await page.getByRole('button', { name: 'Create segment' }).click();
    await page.locator('#segment-size', { hasText: '1' }).waitFor();
    assert.match(await page.locator('#segment-members').innerText(), /Jazz Jane/);
    assert.deepEqual(await seriousA11yViolations(page), [], 'segment page: accessibility violations');

    await page.getByRole('link', { name: 'Dashboard' }).click();
    await page.getByRole('button', { name: 'Compute now' }).click();
    await page.locator('#customers', { hasText: 'Members by lifecycle stage' }).waitFor();
    assert.deepEqual(await seriousA11yViolations(page), [], 'dashboard with insights: accessibility violations');

    await page.goto(`${baseUrl}/console/${program}/members/${jazzFan}`);
    assert.match(await page.locator('#explanation').innerText(), /bought 6 times, usually every 12 days/);
    assert.equal(await page.locator('#member-segments').innerText(), 'jazz_fans');
    assert.deepEqual(await seriousA11yViolations(page), [], 'member predictions: accessibility violations');
    await page.setViewportSize(viewports.phone);
    await page.screenshot({ path: `${artifacts}/console-member-predictions-phone.png`, fullPage: true });
  } finally {
    await browser.close();
  }
});
