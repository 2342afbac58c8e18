// An owner deletes their own account in headless Chromium: sign in, Settings, "Delete account
// or workspace", "Delete my account…", re-enter the password (step-up), confirm; the session
// is gone at once, and the confirmation email arrives in the server's file outbox once the
// erasure (run by the server's own workers) has completed, not before.
//
// Written against the UI contract (labels, link and button names), not the markup. Run it
// through ./run.sh, which starts a server, creates the account with the CLI and sets BASE_URL,
// DELETE_EMAIL, DELETE_PASSWORD and OUTBOX_DIR.

import { chromium } from 'playwright-core';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const { BASE_URL, DELETE_EMAIL, DELETE_PASSWORD, OUTBOX_DIR } = process.env;
if (!BASE_URL || !DELETE_EMAIL || !DELETE_PASSWORD || !OUTBOX_DIR) {
  console.error('error: BASE_URL, DELETE_EMAIL, DELETE_PASSWORD and OUTBOX_DIR must be set; run ./run.sh');
  process.exit(2);
}
const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';

const pathOf = (page) => new URL(page.url()).pathname;

function control(page, name) {
  return page
    .getByRole('button', { name, exact: true })
    .or(page.getByRole('link', { name, exact: true }))
    .first();
}

function field(page, label) {
  return page.getByLabel(label, { exact: true });
}

function expect(condition, message) {
  if (!condition) throw new Error(message);
}

// The messages to `to` in the file outbox (one JSON file per message).
function mailTo(to) {
  let names = [];
  try {
    names = fs.readdirSync(OUTBOX_DIR).filter((n) => n.endsWith('.json'));
  } catch (error) {
    if (error.code !== 'ENOENT') throw error;
  }
  return names
    .map((n) => JSON.parse(fs.readFileSync(path.join(OUTBOX_DIR, n), 'utf8')))
    .filter((m) => m.to === to);
}

async function flow(page) {
  // Sign in.
  await page.goto(`${BASE_URL}/login`);
  await field(page, 'Email').fill(DELETE_EMAIL);
  await field(page, 'Password').fill(DELETE_PASSWORD);
  await Promise.all([
    page.waitForURL((url) => url.pathname === '/'),
    control(page, 'Sign in').click(),
  ]);

  // Settings, then the deletion page, reached by keyboard-usable links.
  await page.goto(`${BASE_URL}/settings/profile`);
  await Promise.all([
    page.waitForURL((url) => url.pathname === '/settings/delete'),
    control(page, 'Delete account or workspace').click(),
  ]);
  expect(mailTo(DELETE_EMAIL).length === 0, 'no email before anything happened');

  // "Delete my account…" asks for the password again, even right after signing in.
  await Promise.all([
    page.waitForURL((url) => url.pathname === '/reauth'),
    control(page, 'Delete my account…').click(),
  ]);
  await field(page, 'Password').fill(DELETE_PASSWORD);
  await Promise.all([
    page.waitForURL((url) => url.pathname === '/settings/delete/account'),
    control(page, 'Confirm').click(),
  ]);

  // The last confirmation.
  await Promise.all([
    page.waitForLoadState('load'),
    control(page, 'Delete my account').click(),
  ]);
  await page.getByRole('heading', { name: 'Your account is being deleted' }).waitFor();
  const statusLink = await page.getByRole('link', { name: /\/privacy\/deletion-status\// }).getAttribute('href');

  // Signed out at once: the settings send the browser to sign in.
  await page.goto(`${BASE_URL}/settings/profile`);
  expect(pathOf(page) === '/login', `still signed in: ${page.url()}`);

  // The confirmation arrives when the erasure is complete (the server's workers run it).
  const deadline = Date.now() + 60_000;
  let mails = [];
  while (Date.now() < deadline) {
    mails = mailTo(DELETE_EMAIL);
    if (mails.length > 0) break;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  expect(mails.length === 1, `expected one confirmation email, found ${mails.length}`);
  expect(/deleted/.test(mails[0].subject), `subject: ${mails[0].subject}`);
  // And the public status page says so.
  const statusPath = new URL(statusLink, BASE_URL).pathname;
  const status = await page.request.get(`${BASE_URL}${statusPath}`, {
    headers: { accept: 'application/json' },
  });
  const body = await status.json();
  expect(body.state === 'completed', `request state: ${JSON.stringify(body)}`);
  expect(mails[0].text.includes(body.confirmation_code), 'the email names the request');

  // The account no longer signs in (on an instance left with no account at all, the sign-in
  // page sends the browser to the first sign-up instead).
  await page.goto(`${BASE_URL}/login`);
  if (pathOf(page) === '/login') {
    await field(page, 'Email').fill(DELETE_EMAIL);
    await field(page, 'Password').fill(DELETE_PASSWORD);
    await control(page, 'Sign in').click();
    await page.waitForLoadState('load');
    expect(pathOf(page) === '/login', `a deleted account signed in: ${page.url()}`);
  } else {
    expect(pathOf(page) === '/signup', `unexpected page: ${page.url()}`);
  }
}

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
  console.log('ok: an owner deletes their account with re-authentication and gets the confirmation email');
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
