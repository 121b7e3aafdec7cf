// Vouchers in a real browser against a real `tally serve`: an owner creates a voucher pool with
// the form, generates codes and imports one; then, at the cashier screen, a code typed in lower
// case is validated against a basket that is too small, then a big enough one, and applied once.
// Every page visited passes axe-core with no serious or critical violation.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { launch, baseUrl, artifacts, viewports, tally, seriousA11yViolations } from './browser.js';

const shop = `vouchers-e2e-${Date.now()}`;
let program;

before(async () => {
  tally('tenants', 'create', shop);
  program = JSON.parse(tally('programs', 'create', '--tenant', shop, '--name', 'Vinyl Vault', '--currency', 'USD', '--time-zone', 'America/Chicago')).id;
});

test('an owner makes a voucher pool and a cashier applies one of its codes', async () => {
  const output = tally('operators', 'create', '--tenant', shop, '--email', `owner@${shop}.example`,
    '--name', 'Vera Vouchers', '--role', 'owner', '--base-url', baseUrl);
  const invite = output.match(/https?:\/\/\S+\/console\/link\/[0-9a-f]{64}/)[0];
  const browser = await launch();
  try {
    const page = await browser.newPage({ viewport: viewports.desktop });
    await page.goto(invite);
    await page.locator('#password').fill('a long enough password');
    await page.locator('#password_again').fill('a long enough password');
    await page.getByRole('button', { name: 'Continue' }).click();
    await page.waitForURL(/\/dashboard$/);

    await page.getByRole('link', { name: 'Vouchers' }).click();
    await page.getByRole('heading', { name: 'New voucher pool' }).waitFor();
    assert.deepEqual(await seriousA11yViolations(page), [], 'vouchers page: accessibility violations');
    await page.locator('#name').fill('Record Store Day');
    await page.locator('#kind').selectOption('amount');
    await page.locator('#value').fill('5.00');
    await page.locator('#min_basket').fill('20');
    await page.locator('#prefix').fill('rsd');
    await page.getByRole('button', { name: 'Add pool' }).click();
    await page.locator('#terms', { hasText: '$5.00 off' }).waitFor();

    await page.locator('#count').fill('12');
    await page.getByRole('button', { name: 'Generate', exact: true }).click();
    await page.locator('#notice', { hasText: '12 codes added' }).waitFor();
    assert.equal((await page.locator('#voucher-codes tbody tr').count()), 12);
    await page.locator('#csv').fill('code\nRSD-FRIENDS-01\n');
    await page.getByRole('button', { name: 'Import', exact: true }).click();
    await page.locator('#codes-total', { hasText: '13' }).waitFor();
    assert.deepEqual(await seriousA11yViolations(page), [], 'voucher pool page: accessibility violations');
    await page.screenshot({ path: `${artifacts}/console-voucher-pool-desktop.png`, fullPage: true });

    await page.getByRole('link', { name: 'Cashier' }).click();
    await page.locator('#voucher_code').fill('rsd friends 01');
    await page.locator('#voucher_amount').fill('12.50');
    await page.getByRole('button', { name: 'Validate voucher' }).click();
    assert.match(await page.locator('#voucher_code-error').innerText(), /below this code/);
    await page.locator('#voucher_amount').fill('24.99');
    await page.getByRole('button', { name: 'Validate voucher' }).click();
    assert.match(await page.locator('#notice').innerText(), /RSD-FRIENDS-01: \$5\.00 off \(Record Store Day\)/);
    assert.equal(await page.locator('#voucher_code').inputValue(), 'rsd friends 01', 'the code stays for applying');
    assert.deepEqual(await seriousA11yViolations(page), [], 'cashier with a voucher: accessibility violations');
    await page.getByRole('button', { name: 'Apply voucher' }).click();
    assert.match(await page.locator('#notice').innerText(), /Voucher RSD-FRIENDS-01 redeemed: \$5\.00 off/);
    await page.locator('#voucher_code').fill('RSD-FRIENDS-01');
    await page.locator('#voucher_amount').fill('30');
    await page.getByRole('button', { name: 'Apply voucher' }).click();
    assert.match(await page.locator('#voucher_code-error').innerText(), /already used/);
    await page.setViewportSize(viewports.phone);
    await page.screenshot({ path: `${artifacts}/cashier-voucher-phone.png`, fullPage: true });
  } finally {
    await browser.close();
  }
});
