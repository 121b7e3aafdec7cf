// The interactive API documentation works offline in a real browser: it renders every
// operation from the served OpenAPI document, and "Try it out" calls the live API with a key.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { launch, baseUrl, artifacts, viewports, tally } from './browser.js';

test('the API docs render the operations without any network beyond the server', async () => {
  const browser = await launch();
  try {
    const page = await browser.newPage({ viewport: viewports.desktop });
    const outside = [];
    page.on('request', (r) => { if (!r.url().startsWith(baseUrl)) outside.push(r.url()); });
    await page.goto(`${baseUrl}/api/v1/docs`);
    // Tags start closed; every tag is listed, and opening one shows its operations.
    await page.locator('.opblock-tag').first().waitFor({ timeout: 15000 });
    const tags = await page.locator('.opblock-tag').count();
    assert.ok(tags >= 20, `expected every tag listed, found ${tags}`);
    for (const name of ['Members', 'Orders', 'Rewards', 'Messages', 'Journeys']) {
      await page.locator(`#operations-tag-${name}`).click();
    }
    await page.getByText('/api/v1/programs/{program}/purchases').first().waitFor({ timeout: 15000 });
    const operations = await page.locator('.opblock').count();
    assert.ok(operations >= 25, `expected the open tags' operations listed, found ${operations}`);
    assert.deepEqual(outside, [], 'the docs must not load anything from outside');
    await page.screenshot({ path: `${artifacts}/api-docs-desktop.png`, fullPage: false });
    await page.setViewportSize(viewports.phone);
    await page.screenshot({ path: `${artifacts}/api-docs-phone.png`, fullPage: false });
  } finally {
    await browser.close();
  }
});

test('try it out: list programs with an API key pasted into the key field', async () => {
  const tenant = `e2e-${Date.now()}`;
  tally('tenants', 'create', tenant);
  const key = JSON.parse(tally('keys', 'create', '--tenant', tenant, '--scope', 'admin')).secret;
  const browser = await launch();
  try {
    const page = await browser.newPage({ viewport: viewports.desktop });
    await page.goto(`${baseUrl}/api/v1/docs`);
    await page.locator('#tally-key-input').fill(key);
    await page.getByRole('button', { name: 'Use key' }).click();
    await page.locator('#operations-tag-Programs').click();
    const listPrograms = page.locator('.opblock-get', { hasText: '/api/v1/programs' }).filter({ hasNotText: '{program}' }).first();
    await listPrograms.locator('.opblock-summary').click();
    await listPrograms.getByRole('button', { name: /try it out/i }).click();
    await listPrograms.getByRole('button', { name: /execute/i }).click();
    const status = listPrograms.locator('.live-responses-table tbody .response-col_status').first();
    await status.waitFor({ timeout: 15000 });
    assert.match((await status.innerText()).trim(), /^200/);
  } finally {
    await browser.close();
  }
});
