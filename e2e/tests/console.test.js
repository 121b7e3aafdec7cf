// The console and the cashier screen in a real browser against a real `tally serve`: a new
// owner completes the setup wizard and adds a reward; an owner accepts an invite and finds the
// dashboard; a cashier enrols a customer, records a purchase, redeems a reward and uses its code,
// and is kept out of the back office. Every page visited passes axe-core with no serious or
// critical violation.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { launch, baseUrl, artifacts, viewports, tally, seriousA11yViolations } from './browser.js';

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

/// Checks the page with axe-core and remembers what it found.
async function accessible(page, name) {
  const violations = await seriousA11yViolations(page);
  assert.deepEqual(violations, [], `${name}: accessibility violations`);
}

test('a new owner completes the setup wizard, then adds a reward', async () => {
  const newShop = `wizard-${Date.now()}`;
  tally('tenants', 'create', newShop);
  const invite = linkFrom(tally('operators', 'create', '--tenant', newShop, '--email', `owner@${newShop}.example`,
    '--name', 'Wanda Wizard', '--role', 'owner', '--base-url', baseUrl));
  const browser = await launch();
  try {
    const page = await browser.newPage({ viewport: viewports.desktop });
    await page.goto(invite);
    await page.locator('#password').fill('a long enough password');
    await page.locator('#password_again').fill('a long enough password');
    await page.getByRole('button', { name: 'Continue' }).click();
    await page.waitForURL(/\/console\/setup$/);
    await accessible(page, 'wizard step 1');
    await page.locator('#name').fill('Green Grocer');
    await page.locator('#currency').fill('EUR');
    await page.locator('#points_per_unit').fill('abc');
    await page.getByRole('button', { name: 'Continue' }).click();
    assert.match(await page.locator('#points_per_unit-error').innerText(), /decimal/);
    await page.locator('#points_per_unit').fill('1.5');
    await page.screenshot({ path: `${artifacts}/wizard-program-desktop.png`, fullPage: true });
    await page.getByRole('button', { name: 'Continue' }).click();
    await page.waitForURL(/\/setup\/rewards$/);
    await page.locator('#name_0').fill('Free apple');
    await page.locator('#cost_0').fill('10');
    await page.getByRole('button', { name: 'Continue' }).click();
    await page.waitForURL(/\/setup\/location$/);
    await accessible(page, 'wizard store step');
    await page.locator('#name').fill('Market Square');
    await page.locator('#latitude').fill('50.0617');
    await page.locator('#longitude').fill('19.9373');
    await page.getByRole('button', { name: 'Continue' }).click();
    await page.waitForURL(/\/setup\/done$/);
    await page.getByRole('button', { name: 'Create an API key for the shop' }).click();
    assert.match(await page.locator('#shown-once').innerText(), /^tly_[0-9a-f]{64}$/);
    assert.match(await page.locator('#connect').innerText(), /\/purchases/);
    await page.screenshot({ path: `${artifacts}/wizard-done-desktop.png`, fullPage: true });

    await page.getByRole('link', { name: 'Rewards' }).click();
    await page.locator('#name').fill('Bag of cherries');
    await page.locator('#cost_points').fill('25');
    await page.getByRole('button', { name: 'Add reward' }).click();
    await page.locator('#rewards', { hasText: 'Bag of cherries' }).waitFor();
    assert.equal(await page.locator('#rewards tbody tr').count(), 2);
    await accessible(page, 'rewards');
    await page.getByRole('link', { name: 'Settings' }).click();
    await accessible(page, 'settings');
    await page.getByRole('link', { name: 'Access' }).click();
    await accessible(page, 'access');
  } finally {
    await browser.close();
  }
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
    await accessible(page, 'dashboard');
    await page.screenshot({ path: `${artifacts}/console-dashboard-desktop.png`, fullPage: true });
    await page.setViewportSize(viewports.phone);
    await page.screenshot({ path: `${artifacts}/console-dashboard-phone.png`, fullPage: true });
    await page.setViewportSize(viewports.desktop);
    await page.getByRole('link', { name: 'Members' }).click();
    await page.locator('#no-members').waitFor();
    await accessible(page, 'members');
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
    await accessible(page, 'one-time link');
    await page.getByRole('button', { name: 'Continue' }).click();
    await page.waitForURL(/\/cashier$/);
    await accessible(page, 'cashier');

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
    await accessible(page, 'cashier with a member');
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

test('signing in with a wrong password says so next to the form', async () => {
  const browser = await launch();
  try {
    const page = await browser.newPage({ viewport: viewports.phone });
    await page.goto(`${baseUrl}/console`);
    await page.waitForURL(/\/console\/sign-in/);
    await accessible(page, 'sign-in');
    await page.locator('#email').fill(`owner@${shop}.example`);
    await page.locator('#password').fill('not the password');
    await page.getByRole('button', { name: 'Sign in' }).click();
    assert.match(await page.locator('#general-error').innerText(), /Wrong email or password/);
    await page.screenshot({ path: `${artifacts}/sign-in-phone.png`, fullPage: true });
  } finally {
    await browser.close();
  }
});
