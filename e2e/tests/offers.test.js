// Offers in a real browser against a real `tally serve`: an owner creates a double-points offer
// with the console's form; a member signs in to the wallet (code over SMTP), activates it, and
// after a purchase sees it used and the doubled balance; the owner's report counts the use.
// Every page visited passes axe-core with no serious or critical violation.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { launch, baseUrl, artifacts, viewports, tally, seriousA11yViolations, mailbox, codeFor } from './browser.js';

test('an owner creates an offer, a member activates it in the wallet and the next purchase uses it', { skip: !mailbox && 'set TALLY_MAIL_FILE (.ci/run does)', timeout: 60000 }, async () => {
  const shop = `offers-e2e-${Date.now()}`;
  const email = `${shop}@example.com`;
  tally('tenants', 'create', shop);
  const program = JSON.parse(tally('programs', 'create', '--tenant', shop, '--name', 'Corner Café', '--currency', 'EUR')).id;
  const key = JSON.parse(tally('keys', 'create', '--tenant', shop, '--scope', 'admin')).secret;
  const api = (path, body) => fetch(`${baseUrl}/api/v1${path}`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${key}`, 'Content-Type': 'application/json' },
    body: JSON.stringify(body),
  }).then(async (r) => ({ status: r.status, body: await r.json() }));
  const member = await api(`/programs/${program}/members`, { name: 'Olek', email });
  assert.equal(member.status, 201);
  const invite = tally('operators', 'create', '--tenant', shop, '--email', `owner@${shop}.example`,
    '--name', 'Olga Offers', '--role', 'owner', '--base-url', baseUrl)
    .match(/https?:\/\/\S+\/console\/link\/[0-9a-f]{64}/)[0];

  const browser = await launch();
  try {
    const console = await browser.newPage({ viewport: viewports.desktop });
    await console.goto(invite);
    await console.locator('#password').fill('a long enough password');
    await console.locator('#password_again').fill('a long enough password');
    await console.getByRole('button', { name: 'Continue' }).click();
    await console.waitForURL(/\/dashboard$/);
    await console.getByRole('link', { name: 'Offers' }).click();
    await console.getByRole('heading', { name: 'New offer or deal' }).waitFor();
    assert.deepEqual(await seriousA11yViolations(console), [], 'offers page: accessibility violations');
    // A mistake is named next to its field.
    await console.locator('#name').fill('Double points week');
    await console.locator('#benefit_kind').selectOption('multiplier');
    await console.locator('#multiplier').fill('1');
    await console.getByRole('button', { name: 'Create offer' }).click();
    assert.match(await console.locator('#multiplier-error').innerText(), /above 1/);
    await console.locator('#multiplier').fill('2');
    await console.locator('#min_total').fill('10');
    await console.getByRole('button', { name: 'Create offer' }).click();
    await console.locator('#offers', { hasText: 'Double points week' }).waitFor();
    assert.match(await console.locator('#offers').innerText(), /×2 points[\s\S]*from €10\.00/);

    const context = await browser.newContext({ viewport: viewports.phone });
    const wallet = await context.newPage();
    await wallet.goto(`${baseUrl}/wallet/sign-in`);
    await wallet.locator('#email').fill(email);
    await wallet.getByRole('button', { name: 'Send me a code' }).click();
    await wallet.locator('#code').fill(await codeFor(email));
    await wallet.getByRole('button', { name: 'Sign in' }).click();
    await wallet.waitForURL(/\/wallet$/);
    await wallet.locator('a.card').first().click();
    const offer = wallet.locator('#offers .offer', { hasText: 'Double points week' });
    await offer.waitFor();
    assert.match(await offer.innerText(), /×2 points/);
    assert.deepEqual(await seriousA11yViolations(wallet), [], 'wallet offers: accessibility violations');
    await offer.getByRole('button', { name: 'Activate' }).click();
    assert.match(await wallet.locator('#notice').innerText(), /applies at your next qualifying purchase/);
    assert.equal(await wallet.locator('#offers .offer button').count(), 0, 'activated: no button');
    await wallet.screenshot({ path: `${artifacts}/wallet-offer-phone.png`, fullPage: true });

    // The till's next purchase (€12.50: 12 base points) gets the offer by itself.
    const purchase = await api(`/programs/${program}/purchases`, {
      order_id: 'c-1', member: { id: member.body.id }, total: { amount_minor: 1250, currency: 'EUR' },
    });
    assert.equal(purchase.status, 201);
    assert.equal(purchase.body.points_earned, 24);
    assert.equal(purchase.body.offers[0].name, 'Double points week');
    await wallet.reload();
    assert.equal(await wallet.locator('#wallet-balance').innerText(), '24 points');
    assert.match(await wallet.locator('#offers .offer-state').innerText(), /Used/);

    await console.reload();
    await console.getByRole('link', { name: 'Double points week' }).click();
    assert.equal(await console.locator('#offer-uses').innerText(), '1');
    assert.equal(await console.locator('#offer-activations').innerText(), '1');
    assert.deepEqual(await seriousA11yViolations(console), [], 'offer report: accessibility violations');
    await console.screenshot({ path: `${artifacts}/console-offer-report-desktop.png`, fullPage: true });
  } finally {
    await browser.close();
  }
});
