// The first owner's whole path through the web shell, in headless Chromium: sign up, turn on
// TOTP, sign out, sign in with a code, create an API token, and use it against the API.
//
// Written against the UI contract (labels and ids below), not the markup, so pages may be
// restyled freely. Run it through ./run.sh, which starts a server and sets BASE_URL.

import { chromium } from 'playwright-core';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const BASE_URL = process.env.BASE_URL;
if (!BASE_URL) {
  console.error('error: BASE_URL is not set; run ./run.sh');
  process.exit(2);
}
const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';

// --- TOTP (RFC 6238: HMAC-SHA1, 6 digits, 30-second steps) ---------------------------------

function base32Decode(text) {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  const clean = text.toUpperCase().replace(/[\s=-]/g, '');
  let bits = 0;
  let value = 0;
  const out = [];
  for (const ch of clean) {
    const index = alphabet.indexOf(ch);
    if (index < 0) throw new Error(`not base32: ${ch}`);
    value = (value << 5) | index;
    bits += 5;
    if (bits >= 8) {
      out.push((value >>> (bits - 8)) & 0xff);
      bits -= 8;
    }
  }
  return Buffer.from(out);
}

function totpAt(secret, step) {
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(step));
  const mac = crypto.createHmac('sha1', base32Decode(secret)).update(counter).digest();
  const offset = mac[mac.length - 1] & 0x0f;
  const code = (mac.readUInt32BE(offset) & 0x7fffffff) % 1_000_000;
  return String(code).padStart(6, '0');
}

// A server may refuse a code it has already accepted (replay protection), so each code comes
// from a time step not used before; that can mean waiting for the next step.
let lastStep = -1;
async function freshCode(secret) {
  for (;;) {
    const step = Math.floor(Date.now() / 1000 / 30);
    if (step > lastStep) {
      lastStep = step;
      return totpAt(secret, step);
    }
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
}

// --- helpers -------------------------------------------------------------------------------

const pathOf = (page) => new URL(page.url()).pathname;

function button(page, name) {
  // The contract names the control; whether it is a <button> or a link styled as one is the
  // page's business.
  return page
    .getByRole('button', { name, exact: true })
    .or(page.getByRole('link', { name, exact: true }))
    .first();
}

function field(page, label) {
  return page.getByLabel(label, { exact: true });
}

/** Completes `/reauth` if the last action was sent there; returns whether it was. */
async function reauthIfAsked(page, password, secret) {
  if (pathOf(page) !== '/reauth') return false;
  await field(page, 'Password').fill(password);
  const code = field(page, 'Authentication code');
  if (secret && (await code.count()) > 0) {
    await code.fill(await freshCode(secret));
  }
  await Promise.all([
    page.waitForURL((url) => url.pathname !== '/reauth'),
    button(page, 'Confirm').click(),
  ]);
  return true;
}

function step(name) {
  console.log(`- ${name}`);
}

// --- the flow ------------------------------------------------------------------------------

const stamp = Date.now();
const owner = {
  name: 'Ada Owner',
  email: `ada.${stamp}@example.com`,
  password: `browser-test ${crypto.randomBytes(6).toString('hex')}`,
  workspace: `Browser Shop ${stamp}`,
};

async function flow(page) {
  step('sign up the first owner');
  await page.goto(`${BASE_URL}/signup`);
  await field(page, 'Your name').fill(owner.name);
  await field(page, 'Email').fill(owner.email);
  await field(page, 'Password').fill(owner.password);
  await field(page, 'Workspace name').fill(owner.workspace);
  await Promise.all([
    page.waitForURL((url) => url.pathname === '/'),
    button(page, 'Create workspace').click(),
  ]);

  step('enrol TOTP');
  await page.goto(`${BASE_URL}/settings/security`);
  await Promise.all([page.waitForLoadState('load'), button(page, 'Set up two-factor authentication').click()]);
  if (await reauthIfAsked(page, owner.password, null)) {
    // Some flows return to the settings page rather than straight into enrolment.
    const setup = button(page, 'Set up two-factor authentication');
    if (!(await page.locator('#totp-secret').count()) && (await setup.count())) {
      await setup.click();
    }
  }
  const secretText = (await page.locator('#totp-secret').innerText()).trim();
  const secret = secretText.includes('secret=')
    ? new URL(secretText).searchParams.get('secret')
    : secretText;
  await field(page, 'Authentication code').fill(await freshCode(secret));
  await button(page, 'Turn on').click();
  await page.locator('#recovery-codes').waitFor({ state: 'visible' });

  step('sign out');
  await Promise.all([page.waitForLoadState('load'), button(page, 'Sign out').click()]);

  step('sign in with password and code');
  await page.goto(`${BASE_URL}/login`);
  await field(page, 'Email').fill(owner.email);
  await field(page, 'Password').fill(owner.password);
  await Promise.all([
    page.waitForURL((url) => url.pathname === '/login/mfa'),
    button(page, 'Sign in').click(),
  ]);
  await field(page, 'Authentication code').fill(await freshCode(secret));
  await Promise.all([
    page.waitForURL((url) => url.pathname === '/'),
    button(page, 'Verify').click(),
  ]);

  step('create an API token');
  const createToken = async () => {
    await field(page, 'Token name').fill('browser test');
    await field(page, 'Role').selectOption('agent');
    await Promise.all([page.waitForLoadState('load'), button(page, 'Create token').click()]);
  };
  await page.goto(`${BASE_URL}/settings/tokens`);
  await createToken();
  if (await reauthIfAsked(page, owner.password, secret)) {
    if (!(await page.locator('#new-token').count())) {
      if (pathOf(page) !== '/settings/tokens') await page.goto(`${BASE_URL}/settings/tokens`);
      await createToken();
    }
  }
  const token = (await page.locator('#new-token').innerText()).trim();
  if (!token.startsWith('sbt_')) throw new Error(`#new-token shows "${token}", not an sbt_ token`);

  step('use the token against the API');
  const response = await fetch(`${BASE_URL}/api/v1/me`, {
    headers: { Authorization: `Bearer ${token}` },
  });
  if (response.status !== 200) {
    throw new Error(`GET /api/v1/me answered ${response.status}: ${await response.text()}`);
  }
}

// Playwright gives each launch a new, empty profile directory of its own.
const browser = await chromium.launch({
  executablePath: CHROMIUM,
  headless: true,
  args: [
    '--headless',
    '--no-sandbox',
    '--disable-gpu',
    '--disable-quic',
    '--no-first-run',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
  ],
});
let failed = false;
const page = await browser.newPage();
page.setDefaultTimeout(15_000);
try {
  await flow(page);
  console.log('ok: sign-up, TOTP enrolment, sign-in with MFA and API token creation work');
} catch (error) {
  failed = true;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'switchboard-browser-failure-'));
  await page.screenshot({ path: path.join(dir, 'failure.png'), fullPage: true }).catch(() => {});
  fs.writeFileSync(path.join(dir, 'page.html'), await page.content().catch(() => ''));
  console.error(`FAILED at ${page.url()}: ${error.message}`);
  console.error(`screenshot and page HTML: ${dir}`);
} finally {
  await browser.close();
}
process.exit(failed ? 1 : 0);
