// Messages in a real browser against a real `tally serve`: an owner switches the welcome
// playbook on in the console with one click; a member who joins without email consent gets the
// welcome in the wallet's inbox (the fallback channel), reads it and marks it read. Every page
// visited passes axe-core with no serious or critical violation.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { launch, baseUrl, viewports, tally, seriousA11yViolations, mailbox, codeFor } from './browser.js';

test('an owner switches a playbook on and a new member reads its welcome in the wallet inbox', { skip: !mailbox && 'set TALLY_MAIL_FILE (.ci/run does)', timeout: 90000 }, async () => {
  const shop = `messages-e2e-${Date.now()}`;
  const email = `${shop}@example.com`;
  tally('tenants', 'create', shop);
  const program = JSON.parse(tally('programs', 'create', '--tenant', shop, '--name', 'Corner Café', '--currency', 'EUR')).id;
  const key = JSON.parse(tally('keys', 'create', '--tenant', shop, '--scope', 'admin')).secret;
  const invite = tally('operators', 'create', '--tenant', shop, '--email', `owner@${shop}.example`,
    '--name', 'Mira Messages', '--role', 'owner', '--base-url', baseUrl)
    .match(/https?:\/\/\S+\/console\/link\/[0-9a-f]{64}/)[0];

  const browser = await launch();
  try {
    const console = await browser.newPage({ viewport: viewports.desktop });
    await console.goto(invite);
    await console.locator('#password').fill('a long enough password');
    await console.locator('#password_again').fill('a long enough password');
    await console.getByRole('button', { name: 'Continue' }).click();
    await console.waitForURL(/\/dashboard$/);
    await console.getByRole('link', { name: 'Messages' }).click();
    await console.getByRole('heading', { name: 'Playbooks' }).waitFor();
    assert.deepEqual(await seriousA11yViolations(console), [], 'messages page: accessibility violations');
    await console.locator('#playbook-welcome_series').getByRole('button', { name: 'Switch on' }).click();
    await console.locator('#journeys', { hasText: 'Welcome series' }).waitFor();

    // The member joins (no email consent: the welcome falls back to the in-app inbox).
    const joined = await fetch(`${baseUrl}/api/v1/programs/${program}/members`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${key}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ name: 'Olek Nowak', email }),
    });
    assert.equal(joined.status, 201);

    const context = await browser.newContext({ viewport: viewports.phone });
    const wallet = await context.newPage();
    await wallet.goto(`${baseUrl}/wallet/sign-in`);
    await wallet.locator('#email').fill(email);
    await wallet.getByRole('button', { name: 'Send me a code' }).click();
    await wallet.locator('#code').fill(await codeFor(email));
    await wallet.getByRole('button', { name: 'Sign in' }).click();
    await wallet.waitForURL(/\/wallet$/);
    await wallet.locator('a.card').first().click();
    // The journey runner and the deliverer work every few seconds: look again until it is there.
    const message = wallet.locator('#inbox li', { hasText: 'Welcome to Corner Café, Olek' });
    for (let i = 0; i < 30 && !(await message.count()); i++) {
      await new Promise((r) => setTimeout(r, 1000));
      await wallet.reload();
    }
    assert.match(await message.innerText(), /new/);
    assert.deepEqual(await seriousA11yViolations(wallet), [], 'wallet inbox: accessibility violations');
    await message.getByRole('button', { name: 'Mark as read' }).click();
    await wallet.locator('#inbox li', { hasText: 'Welcome to Corner Café, Olek' }).waitFor();
    assert.equal(await wallet.locator('#inbox li.unread').count(), 0);
  } finally {
    await browser.close();
  }
});
