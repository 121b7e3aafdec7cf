// Push in a real browser against a real `tally serve`: a member turns notifications on in the
// wallet (the button asks the browser, which subscribes against the server's VAPID key), the
// program sends them a message, and they read it in the wallet inbox. The push service is a
// real HTTP server on loopback standing in for the browser vendor's (unreachable from CI): the
// browser's `pushManager.subscribe` is pointed at it with keys this test holds, so the test can
// decrypt what Tally sent (RFC 8291, with Node's own crypto) as the browser would.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createECDH, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';
import { launch, baseUrl, viewports, tally, seriousA11yViolations, mailbox, codeFor, receiver } from './browser.js';

/// RFC 8291 from the browser's side.
function decrypt(body, ecdh, auth) {
  const salt = body.subarray(0, 16);
  const idlen = body[20];
  const asPublic = body.subarray(21, 21 + idlen);
  const sealed = body.subarray(21 + idlen);
  const info = Buffer.concat([Buffer.from('WebPush: info\0'), ecdh.getPublicKey(), asPublic]);
  const ikm = Buffer.from(hkdfSync('sha256', ecdh.computeSecret(asPublic), auth, info, 32));
  const cek = Buffer.from(hkdfSync('sha256', ikm, salt, Buffer.from('Content-Encoding: aes128gcm\0'), 16));
  const nonce = Buffer.from(hkdfSync('sha256', ikm, salt, Buffer.from('Content-Encoding: nonce\0'), 12));
  const decipher = createDecipheriv('aes-128-gcm', cek, nonce);
  decipher.setAuthTag(sealed.subarray(sealed.length - 16));
  const plain = Buffer.concat([decipher.update(sealed.subarray(0, sealed.length - 16)), decipher.final()]);
  assert.equal(plain[plain.length - 1], 2, 'the last record ends with the delimiter 2');
  return JSON.parse(plain.subarray(0, plain.length - 1).toString('utf8'));
}

test('a member turns push on in the wallet, gets a message pushed and reads it in the inbox', { skip: !mailbox && 'set TALLY_MAIL_FILE (.ci/run does)', timeout: 90000 }, async () => {
  const shop = `push-e2e-${Date.now()}`;
  const email = `${shop}@example.com`;
  tally('tenants', 'create', shop);
  const program = JSON.parse(tally('programs', 'create', '--tenant', shop, '--name', 'Corner Café', '--currency', 'EUR')).id;
  const key = JSON.parse(tally('keys', 'create', '--tenant', shop, '--scope', 'admin')).secret;
  const api = async (method, path, body) => {
    const answer = await fetch(`${baseUrl}/api/v1${path}`, {
      method, headers: { Authorization: `Bearer ${key}`, 'Content-Type': 'application/json' }, body: JSON.stringify(body),
    });
    return { status: answer.status, json: await answer.json() };
  };
  // Whatever the hour CI runs at, no quiet hours hold the message back.
  assert.equal((await api('PUT', `/programs/${program}/messaging`, { quiet_hours: null })).status, 200);
  const member = await api('POST', `/programs/${program}/members`, { name: 'Olek Nowak', email });
  assert.equal(member.status, 201);
  const template = await api('POST', `/programs/${program}/templates`, {
    name: 'Fresh beans', subject: 'Fresh beans, {{ member.first_name }}', text: 'The Ethiopian roast is in.',
  });
  assert.equal(template.status, 201);

  const service = await receiver('/push/olek-phone', 201);
  const ecdh = createECDH('prime256v1');
  ecdh.generateKeys();
  const auth = randomBytes(16);
  const browser = await launch();
  try {
    const context = await browser.newContext({ viewport: viewports.phone });
    await context.grantPermissions(['notifications'], { origin: baseUrl });
    // The browser's push service is the stand-in, with keys this test holds.
    await context.addInitScript(({ endpoint, p256dh, auth }) => {
      PushManager.prototype.subscribe = async function () {
        return { endpoint, toJSON: () => ({ endpoint, expirationTime: null, keys: { p256dh, auth } }) };
      };
    }, { endpoint: service.url, p256dh: ecdh.getPublicKey().toString('base64url'), auth: auth.toString('base64url') });
    const wallet = await context.newPage();
    await wallet.goto(`${baseUrl}/wallet/sign-in`);
    await wallet.locator('#email').fill(email);
    await wallet.getByRole('button', { name: 'Send me a code' }).click();
    await wallet.locator('#code').fill(await codeFor(email));
    await wallet.getByRole('button', { name: 'Sign in' }).click();
    await wallet.waitForURL(/\/wallet$/);
    await wallet.locator('a.card').first().click();
    await wallet.getByRole('button', { name: 'Turn on notifications' }).click();
    await wallet.getByText('Notifications are on for this device.').waitFor();
    assert.deepEqual(await seriousA11yViolations(wallet), [], 'wallet with push on: accessibility violations');

    const sent = await api('POST', `/members/${member.json.id}/messages`, { template: template.json.id, channel: 'push' });
    assert.equal(sent.status, 201, JSON.stringify(sent.json));
    for (let i = 0; i < 30 && service.received.length < 1; i++) await new Promise((r) => setTimeout(r, 500));
    assert.equal(service.received.length, 1, 'the push service got the message');
    const pushed = service.received[0];
    assert.equal(pushed.headers['content-encoding'], 'aes128gcm');
    assert.match(pushed.headers.authorization, /^vapid t=[\w-]+\.[\w-]+\.[\w-]+, k=[\w-]+$/);
    const payload = decrypt(pushed.body, ecdh, auth);
    assert.equal(payload.title, 'Fresh beans, Olek');
    assert.equal(payload.tag, sent.json.id);

    // The notification opens the wallet; the message waits in the inbox.
    await wallet.goto(payload.url);
    await wallet.locator('a.card').first().click();
    const message = wallet.locator('#inbox li', { hasText: 'Fresh beans, Olek' });
    await message.waitFor();
    assert.match(await message.innerText(), /new/);
    await message.getByRole('button', { name: 'Mark as read' }).click();
    await wallet.locator('#inbox li', { hasText: 'Fresh beans, Olek' }).waitFor();
    assert.equal(await wallet.locator('#inbox li.unread').count(), 0);
  } finally {
    await browser.close();
    service.server.close();
  }
});
