// The rule editor in a real browser against a real `tally serve`: an owner writes a rule with a
// typo and sees the message next to the condition, fixes it, tries it against a member's
// purchase without saving, saves it, and pauses it. Every page visited passes axe-core with no
// serious or critical violation.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { launch, baseUrl, artifacts, viewports, tally, seriousA11yViolations } from './browser.js';

const shop = `rules-e2e-${Date.now()}`;
let program;
let card;

before(async () => {
  tally('tenants', 'create', shop);
  program = JSON.parse(tally('programs', 'create', '--tenant', shop, '--name', 'Vinyl Corner', '--currency', 'PLN', '--time-zone', 'Europe/Warsaw')).id;
  const key = JSON.parse(tally('keys', 'create', '--tenant', shop, '--scope', 'admin')).secret;
  const member = await fetch(`${baseUrl}/api/v1/programs/${program}/members`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${key}`, 'Content-Type': 'application/json' },
    body: JSON.stringify({ name: 'Rita Records' }),
  });
  assert.equal(member.status, 201);
  card = (await member.json()).card.number;
});

test('an owner writes a rule, sees a mistake in place, tries it, saves it and pauses it', async () => {
  const output = tally('operators', 'create', '--tenant', shop, '--email', `owner@${shop}.example`,
    '--name', 'Rufus Rules', '--role', 'owner', '--base-url', baseUrl);
  const invite = output.match(/https?:\/\/\S+\/console\/link\/[0-9a-f]{64}/)[0];
  const browser = await launch();
  try {
    const page = await browser.newPage({ viewport: viewports.desktop });
    await page.goto(invite);
    await page.locator('#password').fill('a long enough password');
    await page.locator('#password_again').fill('a long enough password');
    await page.getByRole('button', { name: 'Continue' }).click();
    await page.waitForURL(/\/dashboard$/);
    await page.getByRole('link', { name: 'Earning rules' }).click();
    await page.getByRole('heading', { name: 'Earning rules' }).waitFor();
    assert.deepEqual(await seriousA11yViolations(page), [], 'rules page: accessibility violations');

    await page.locator('#name').fill('Big basket');
    await page.locator('#condition').fill('purchase.totl >= 100.0');
    await page.locator('#effect_kind').selectOption('bonus');
    await page.locator('#effect_value').fill('25');
    await page.getByRole('button', { name: 'Save rule' }).click();
    assert.match(await page.locator('#condition-error').innerText(), /totl/);
    assert.deepEqual(await seriousA11yViolations(page), [], 'refused rule: accessibility violations');

    await page.locator('#condition').fill('purchase.total >= 100.0');
    await page.locator('#try_card').fill(card);
    await page.locator('#try_amount').fill('120,00');
    await page.getByRole('button', { name: 'Try the rule' }).click();
    assert.equal(await page.locator('#trial-rule-points').innerText(), '25');
    assert.equal(await page.locator('#rules').count(), 0, 'a trial saves nothing');
    await page.screenshot({ path: `${artifacts}/console-rule-trial-desktop.png`, fullPage: true });

    await page.getByRole('button', { name: 'Save rule' }).click();
    await page.locator('#rules', { hasText: 'Big basket' }).waitFor();
    assert.match(await page.locator('#rules tbody tr').first().innerText(), /Active/);
    await page.getByRole('button', { name: 'Pause' }).click();
    await page.locator('#rules', { hasText: 'Paused' }).waitFor();
    await page.setViewportSize(viewports.phone);
    await page.screenshot({ path: `${artifacts}/console-rules-phone.png`, fullPage: true });
  } finally {
    await browser.close();
  }
});
