// The member wallet in a real browser: a member signs in with the code emailed over SMTP (read
// from the `tally smtp-sink` that .ci/run starts), sees the card with its QR code and the
// balance a cashier's purchase gave them and the tier with what the next one needs, changes a
// consent, collects a stamp by scanning a till screen's code, and still sees the card offline.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { launch, baseUrl, artifacts, viewports, tally, seriousA11yViolations, mailbox, codeFor } from './browser.js';

test('a member signs in with the emailed code, sees the card and balance, changes a consent, and goes offline', { skip: !mailbox && 'set TALLY_MAIL_FILE (.ci/run does)', timeout: 60000 }, async () => {
  const shop = `wallet-e2e-${Date.now()}`;
  const email = `${shop}@example.com`;
  tally('tenants', 'create', shop);
  const program = JSON.parse(tally('programs', 'create', '--tenant', shop, '--name', 'Book Nook', '--currency', 'EUR')).id;
  const key = JSON.parse(tally('keys', 'create', '--tenant', shop, '--scope', 'admin')).secret;
  const api = (path, body) => fetch(`${baseUrl}/api/v1${path}`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${key}`, 'Content-Type': 'application/json' },
    body: JSON.stringify(body),
  }).then(async (r) => ({ status: r.status, body: await r.json() }));
  const plan = await fetch(`${baseUrl}/api/v1/programs/${program}/tiers`, {
    method: 'PUT',
    headers: { Authorization: `Bearer ${key}`, 'Content-Type': 'application/json' },
    body: JSON.stringify({ metric: 'points_earned', window: 'calendar_year',
      levels: [{ name: 'Bronze', threshold: 0 }, { name: 'Silver', threshold: 100, multiplier: 1.5 }] }),
  });
  assert.equal(plan.status, 200);
  const member = await api(`/programs/${program}/members`, { name: 'Marta', email, consents: { email: true, sms: true } });
  assert.equal(member.status, 201);
  const purchase = await api(`/programs/${program}/purchases`, {
    order_id: 'b-1', member: { id: member.body.id }, total: { amount_minor: 4200, currency: 'EUR' },
  });
  assert.equal(purchase.status, 201);

  const browser = await launch();
  try {
    const context = await browser.newContext({ viewport: viewports.phone });
    const page = await context.newPage();
    await page.goto(`${baseUrl}/wallet`);
    await page.waitForURL(/\/wallet\/sign-in/);
    assert.deepEqual(await seriousA11yViolations(page), []);
    await page.locator('#email').fill(email);
    await page.getByRole('button', { name: 'Send me a code' }).click();
    await page.locator('#code').fill(await codeFor(email));
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL(/\/wallet$/);
    assert.match(await page.locator('a.card').first().innerText(), /Book Nook[\s\S]*42 points/);
    await page.locator('a.card').first().click();
    await page.locator('.qr svg').waitFor();
    assert.equal(await page.locator('#wallet-balance').innerText(), '42 points');
    assert.equal(await page.locator('#wallet-tier').innerText(), 'Bronze');
    assert.equal(await page.locator('#wallet-next-tier').innerText(), '58 points more to reach Silver');
    assert.deepEqual(await seriousA11yViolations(page), []);
    await page.screenshot({ path: `${artifacts}/wallet-card-phone.png`, fullPage: true });

    // Another member's card is not found, not shown.
    const other = await api(`/programs/${program}/members`, { name: 'Someone Else', email: `other-${email}` });
    const foreign = await page.goto(`${baseUrl}/wallet/cards/${other.body.id}`);
    assert.equal(foreign.status(), 404);
    await page.goto(`${baseUrl}/wallet/cards/${member.body.id}`);

    await page.locator('input[name="consent_sms"]').uncheck();
    await page.getByRole('button', { name: 'Save' }).click();
    assert.match(await page.locator('#notice').innerText(), /saved/);
    const consents = await fetch(`${baseUrl}/api/v1/members/${member.body.id}`, { headers: { Authorization: `Bearer ${key}` } })
      .then((r) => r.json()).then((m) => m.consents);
    const sms = consents.find((c) => c.channel === 'sms');
    assert.equal(sms.granted, false);
    assert.equal(sms.source, 'wallet');

    // A stamp card: one stamp from the cashier, one collected by scanning the till screen's code.
    const store = await api(`/programs/${program}/locations`, { name: 'Old Town', latitude: 50.06, longitude: 19.94 });
    assert.equal(store.status, 201);
    const stampCard = await api(`/programs/${program}/stamp-cards`, {
      name: 'Reading card', stamps_required: 4, reward: { points: 40 }, qr_stamps: true,
    });
    assert.equal(stampCard.status, 201);
    assert.equal((await api(`/stamp-cards/${stampCard.body.id}/stamps`, { member: { id: member.body.id } })).status, 201);
    const shown = await api(`/stamp-cards/${stampCard.body.id}/display-code`, { location_id: store.body.id });
    assert.equal(shown.status, 200);
    await page.goto(`${baseUrl}/wallet/stamp/${shown.body.code}`);
    assert.match(await page.locator('#stamp-what').innerText(), /Reading card · Old Town/);
    assert.deepEqual(await seriousA11yViolations(page), []);
    await page.getByRole('button', { name: 'Collect the stamp' }).click();
    assert.match(await page.locator('#notice').innerText(), /Stamp collected on Reading card: 2 of 4/);
    assert.match(await page.locator('#stamp-cards').innerText(), /Reading card · 2 of 4 stamps/);
    assert.equal(await page.locator('#stamp-cards .stamp.on').count(), 2);
    assert.deepEqual(await seriousA11yViolations(page), []);
    await page.screenshot({ path: `${artifacts}/wallet-stamps-phone.png`, fullPage: true });
    await page.goto(`${baseUrl}/wallet/cards/${member.body.id}`);

    // The service worker keeps the last card: offline, it still shows with its QR code.
    const controlled = await page.evaluate(() => Promise.race([
      navigator.serviceWorker.ready.then(() => true),
      new Promise((resolve) => setTimeout(() => resolve(false), 10000)),
    ]));
    assert.ok(controlled, 'the service worker is installed');
    await page.reload();
    await context.setOffline(true);
    await page.reload();
    await page.locator('.qr svg').waitFor();
    assert.match(await page.locator('#card-number').innerText(), /\d{16}/);
    await context.setOffline(false);
  } finally {
    await browser.close();
  }
});
