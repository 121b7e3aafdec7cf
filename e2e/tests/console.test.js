// The console and the cashier screen in a real browser against a real `tally serve`: an owner
// accepts an invite and finds the dashboard, a cashier enrols a customer, records a purchase,
// redeems a reward and uses its code, and is kept out of the back office.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { launch, baseUrl, artifacts, viewports, tally } from './browser.js';

const shop = `console-e2e-${Date.now()}`;
let program;
let key;

/// The URL printed on the line of `tally operators …` output that contains a link.
function linkFrom(output) {
  const match = output.match(/https?:\/\/\S+\/console\/link\/[0-9a-f]{64}/);
  assert.ok(match, `no link in: ${output}`);
  return match[0];
}

before(async () => {
  tally('tenants', 'create', shop);
  program = JSON.parse(tally('programs', 'create', '--tenant', shop, '--name', 'Corner Café', '--currency', 'PLN', '--time-zone', 'Europe/Warsaw')).id;
  key = JSON.parse(tally('keys', 'create', '--tenant', shop, '--scope', 'admin')).secret;
  const reward = await fetch(`${baseUrl}/api/v1/programs/${program}/rewards`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${key}`, 'Content-Type': 'application/json' },
    body: JSON.stringify({ name: 'Free coffee', cost_points: 20 }),
  });
  assert.equal(reward.status, 201);
});

test('an owner accepts an invite, sees the dashboard, finds a member and switches to Polish', async () => {
  const invite = linkFrom(tally('operators', 'create', '--tenant', shop, '--email', `owner@${shop}.example`,
    '--name', 'Olga Owner', '--role', 'owner', '--base-url', baseUrl));
  const browser = await launch();
  try {
    const page = await browser.newPage({ viewport: viewports.desktop });
    await page.goto(invite);
    await page.locator('#password').fill('short');
    await page.locator('#password_again').fill('short');
    await page.getByRole('button', { name: 'Continue' }).click();
    assert.match(await page.locator('#password-error').innerText(), /at least 10 characters/);
    await page.locator('#password').fill('a long enough password');
    await page.locator('#password_again').fill('a long enough password');
    await page.getByRole('button', { name: 'Continue' }).click();
    await page.waitForURL(/\/dashboard$/);
    await page.getByRole('heading', { name: 'Dashboard' }).waitFor();
    assert.equal((await page.locator('svg.chart').count()), 3);
    await page.screenshot({ path: `${artifacts}/console-dashboard-desktop.png`, fullPage: true });
    await page.setViewportSize(viewports.phone);
    await page.screenshot({ path: `${artifacts}/console-dashboard-phone.png`, fullPage: true });
    await page.setViewportSize(viewports.desktop);
    await page.getByRole('link', { name: 'Members' }).click();
    await page.locator('#no-members').waitFor();
    await page.getByRole('link', { name: 'Polski' }).click();
    await page.getByRole('heading', { name: 'Członkowie' }).waitFor();
    await page.screenshot({ path: `${artifacts}/console-members-pl.png`, fullPage: true });
  } finally {
    await browser.close();
  }
});

test('a cashier enrols a customer, records a purchase, redeems and uses a reward', async () => {
  tally('operators', 'create', '--tenant', shop, '--email', `cashier@${shop}.example`, '--name', 'Cezary Cashier', '--role', 'cashier');
  const signIn = linkFrom(tally('operators', 'link', '--email', `cashier@${shop}.example`, '--base-url', baseUrl));
  const browser = await launch();
  try {
    const page = await browser.newPage({ viewport: { width: 1024, height: 768 } });
    await page.goto(signIn);
    await page.getByRole('button', { name: 'Continue' }).click();
    await page.waitForURL(/\/cashier$/);

    await page.getByText('Enrol a new member').click();
    await page.locator('#name').fill('Kasia Nowak');
    await page.locator('#enrol-email').fill('not-an-email');
    await page.getByRole('button', { name: 'Enrol and issue a card' }).click();
    assert.match(await page.locator('#email-error').innerText(), /not an email address/);
    assert.equal(await page.locator('#name').inputValue(), 'Kasia Nowak', 'the form keeps what was typed');
    await page.locator('#enrol-email').fill('kasia@example.com');
    await page.getByRole('button', { name: 'Enrol and issue a card' }).click();
    assert.match(await page.locator('#notice').innerText(), /New member enrolled/);

    await page.locator('#amount').fill('25,00');
    await page.getByRole('button', { name: 'Record purchase' }).click();
    assert.match(await page.locator('#notice').innerText(), /25 points earned/);
    assert.equal(await page.locator('#cashier-balance').innerText(), '25 points');
    await page.screenshot({ path: `${artifacts}/cashier-tablet.png`, fullPage: true });

    await page.getByRole('button', { name: 'Redeem' }).click();
    const notice = await page.locator('#notice').innerText();
    const code = notice.match(/Code: (\S+)/)[1];
    assert.equal(await page.locator('#cashier-balance').innerText(), '5 points');
    await page.locator('#code').fill(code.toLowerCase());
    await page.getByRole('button', { name: 'Check' }).click();
    assert.equal(await page.locator('#redemption-status').innerText(), 'to be used');
    await page.getByRole('button', { name: 'Use the code now' }).click();
    assert.equal(await page.locator('#redemption-status').innerText(), 'used');

    const dashboard = await page.goto(`${baseUrl}/console/${program}/dashboard`);
    assert.equal(dashboard.status(), 403, 'a cashier cannot open the dashboard');
    await page.setViewportSize(viewports.phone);
    await page.goto(`${baseUrl}/console/${program}/cashier`);
    await page.screenshot({ path: `${artifacts}/cashier-phone.png`, fullPage: true });
  } finally {
    await browser.close();
  }
});
