// The agent inbox in headless Chromium, against `switchboard serve --demo` (its in-process
// platform simulator stands in for WhatsApp): an agent signs in, sees a customer's message
// arrive through the simulator without reloading, replies, sees the delivered mark; assigns,
// labels and resolves; searches; saves and uses a canned response. Screenshots of the main
// screens go to $OUTPUT_DIR (default: a new temporary directory, printed at the end).
//
// Run it through ./run.sh, which starts the demo server and sets BASE_URL, SIM_URL,
// DEMO_EMAIL and DEMO_PASSWORD.

import { chromium } from 'playwright-core';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const { BASE_URL, SIM_URL, DEMO_EMAIL, DEMO_PASSWORD } = process.env;
if (!BASE_URL || !SIM_URL || !DEMO_EMAIL || !DEMO_PASSWORD) {
  console.error('error: BASE_URL, SIM_URL, DEMO_EMAIL and DEMO_PASSWORD must be set; run ./run.sh');
  process.exit(2);
}
const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const OUTPUT = process.env.OUTPUT_DIR || fs.mkdtempSync(path.join(os.tmpdir(), 'switchboard-inbox-'));
fs.mkdirSync(OUTPUT, { recursive: true });

const DEMO_PHONE_ID = '105550001111';

function step(name) {
  console.log(`- ${name}`);
}

async function shot(page, name) {
  await page.screenshot({ path: path.join(OUTPUT, `${name}.png`), fullPage: true });
}

async function sim(pathname, body) {
  const response = await fetch(`${SIM_URL}${pathname}`, {
    method: body ? 'POST' : 'GET',
    headers: body ? { 'Content-Type': 'application/json' } : {},
    body: body ? JSON.stringify(body) : undefined,
  });
  if (!response.ok) throw new Error(`simulator ${pathname}: ${response.status} ${await response.text()}`);
  return response.json();
}

const row = (page, text) => page.locator('#conversation-list .conversation', { hasText: text });

async function flow(page) {
  step('sign in as the demo agent');
  await page.goto(`${BASE_URL}/login`);
  await page.getByLabel('Email', { exact: true }).fill(DEMO_EMAIL);
  await page.getByLabel('Password', { exact: true }).fill(DEMO_PASSWORD);
  await Promise.all([
    page.waitForURL((url) => url.pathname === '/'),
    page.getByRole('button', { name: 'Sign in', exact: true }).click(),
  ]);
  await page.locator('main.inbox').waitFor();
  await page.waitForFunction(() => document.body.getAttribute('data-live') === 'open');

  step("the demo customer's first message is in the list");
  await row(page, 'Ana Souza').waitFor();

  step('a new message arrives through the simulator and appears without reloading');
  const marker = `Do you ship to Lisbon? ${Date.now()}`;
  const navigations = [];
  page.on('framenavigated', (frame) => { if (frame === page.mainFrame()) navigations.push(frame.url()); });
  await sim('/_sim/inbound', {
    platform: 'whatsapp', account: DEMO_PHONE_ID, sender: '15557654321', name: 'Bruno Lima', text: marker,
  });
  await row(page, 'Bruno Lima').waitFor({ timeout: 10_000 });
  await row(page, 'Bruno Lima').locator('.unread-count').waitFor();
  if (navigations.length) throw new Error(`the page reloaded: ${navigations}`);
  await shot(page, '1-inbox-list');

  step('open the conversation and reply');
  await row(page, 'Bruno Lima').locator('a.open-conversation').click();
  await page.locator('#timeline').getByText(marker).waitFor();
  await page.locator('#reply-window').getByText('Reply window open').waitFor();
  const reply = `Yes, we ship to Lisbon in 3 days. ${Date.now()}`;
  await page.getByLabel('Reply', { exact: true }).fill(reply);
  await page.getByLabel('Reply', { exact: true }).press('Control+Enter');
  const sent = page.locator('#timeline .item.outbound', { hasText: reply });
  await sent.waitFor();
  await sent.locator('.mark-sent, .mark-delivered').waitFor({ timeout: 15_000 });

  step('the platform reports delivery; the mark changes live');
  const sends = await sim('/_sim/sends?platform=whatsapp');
  const mine = sends.data.filter((s) => JSON.stringify(s.body).includes('Lisbon in 3 days')).pop();
  const wamid = mine.response.messages[0].id;
  await sim('/_sim/statuses', { message_id: wamid, status: 'delivered' });
  await page.locator('#timeline .item.outbound', { hasText: reply }).locator('.mark-delivered').waitFor({ timeout: 10_000 });
  await shot(page, '2-conversation-delivered');

  step('assign to me, label, note');
  const assignee = page.getByLabel('Assignee', { exact: true }).last();
  const me = await assignee.locator('option', { hasText: 'demo' }).first().getAttribute('value');
  await assignee.selectOption(me);
  await page.locator('#timeline').getByText('assigned it to').waitFor();
  await page.getByLabel('New label', { exact: true }).fill('Shipping');
  await page.getByRole('button', { name: 'Create and apply' }).click();
  await page.locator('#labels').getByText('Shipping').waitFor();
  await page.locator('#timeline').getByText('added the label Shipping').waitFor();
  await page.getByLabel(/Private note/).fill('Check the Lisbon courier price.');
  await page.getByRole('button', { name: 'Add note' }).click();
  await page.locator('#timeline .item.note', { hasText: 'Lisbon courier' }).waitFor();

  step('save a canned response and use it in the composer');
  await page.locator('details.canned-new summary').click();
  await page.getByLabel('Shortcut', { exact: true }).fill('thanks');
  await page.getByLabel('Text', { exact: true }).fill('Thanks {{contact.name}}! {{agent.name}} from Demo Shop.');
  await page.getByRole('button', { name: 'Save' }).click();
  await page.getByText('Canned response /thanks saved.').waitFor();
  const pick = page.getByLabel('Canned response', { exact: true });
  const option = await pick.locator('option', { hasText: '/thanks' }).getAttribute('value');
  await pick.selectOption(option);
  await page.waitForFunction(() => document.getElementById('reply-text').value.includes('Thanks Bruno Lima!'));
  await shot(page, '3-composer-canned');
  await page.getByRole('button', { name: 'Send', exact: true }).click();
  await page.locator('#timeline .item.outbound', { hasText: 'Thanks Bruno Lima!' }).waitFor();

  step('resolve with the keyboard shortcut');
  await page.locator('#timeline').click();
  await page.keyboard.press('e');
  await page.locator('#status-badge', { hasText: 'resolved' }).waitFor();
  await page.locator('#timeline').getByText('resolved it').waitFor();
  await shot(page, '4-resolved');

  step('the resolved conversation is listed under resolved, with its label');
  await page.getByLabel('Status', { exact: true }).selectOption('resolved');
  await row(page, 'Bruno Lima').locator('.label', { hasText: 'Shipping' }).waitFor();

  step('search finds the message and leads to the conversation');
  await page.getByLabel('Search messages and contacts').fill('Lisbon');
  await page.getByLabel('Search messages and contacts').press('Enter');
  const result = page.locator('#search-results .result.message', { hasText: 'Do you ship to Lisbon' });
  await result.waitFor();
  await shot(page, '5-search');
  await result.getByRole('link').click();
  await page.locator('#timeline').getByText(marker).waitFor();
}

const browser = await chromium.launch({
  executablePath: CHROMIUM,
  headless: true,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
let failed = false;
const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
page.setDefaultTimeout(15_000);
const consoleErrors = [];
page.on('console', (m) => {
  if (m.type() !== 'error' || m.location().url.endsWith('/favicon.ico')) return;
  const at = m.location();
  consoleErrors.push(`${m.text().slice(0, 90)} at ${at.url}:${at.lineNumber}`);
});
page.on('response', (r) => {
  if (r.status() === 404 && !r.url().endsWith('/favicon.ico')) consoleErrors.push(`404 ${r.url()}`);
});
try {
  await flow(page);
  if (consoleErrors.length) throw new Error(`console errors (CSP?): ${consoleErrors.join(' | ')}`);
  console.log(`ok: inbox live update, reply with delivery mark, assign, label, note, canned response, resolve, search (screenshots: ${OUTPUT})`);
} catch (error) {
  failed = true;
  await page.screenshot({ path: path.join(OUTPUT, 'failure.png'), fullPage: true }).catch(() => {});
  fs.writeFileSync(path.join(OUTPUT, 'page.html'), await page.content().catch(() => ''));
  console.error(`FAILED at ${page.url()}: ${error.message}`);
  console.error(`screenshot and page HTML: ${OUTPUT}`);
} finally {
  await browser.close();
}
process.exit(failed ? 1 : 0);
