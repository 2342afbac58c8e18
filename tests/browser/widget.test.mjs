// The website chat widget in headless Chromium, as an operator's customer meets it: a host page
// on another origin (a tiny server started here, on its own 127.0.0.1 port, with a strict CSP
// and hostile CSS) embeds the widget with one script tag; the visitor writes; the test answers
// as an agent through the API; the visitor sees the reply without a reload, and it is marked
// read. Then the visitor deletes the conversation. With the pre-chat email required, a new
// visitor is asked for their email (by a labelled field that gets the focus back when the
// server refuses) and the address lands on their contact. The same page on an origin the
// widget does not allow (localhost instead of 127.0.0.1) gets a refusal.
//
// Run it through ./run.sh, which starts a server and sets BASE_URL and WIDGET_API_TOKEN (an
// admin token of a workspace made for this test). A screenshot of the answered chat goes to
// TEST_OUTPUT_DIR (default: ./output).

import { chromium } from 'playwright-core';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const BASE_URL = process.env.BASE_URL;
const TOKEN = process.env.WIDGET_API_TOKEN;
if (!BASE_URL || !TOKEN) {
  console.error('error: BASE_URL or WIDGET_API_TOKEN is not set; run ./run.sh');
  process.exit(2);
}
const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const OUT_DIR =
  process.env.TEST_OUTPUT_DIR || path.join(path.dirname(fileURLToPath(import.meta.url)), 'output');

async function api(method, pathname, body) {
  const response = await fetch(`${BASE_URL}${pathname}`, {
    method,
    headers: {
      Authorization: `Bearer ${TOKEN}`,
      ...(body === undefined ? {} : { 'Content-Type': 'application/json' }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : null };
}

function expect(condition, message) {
  if (!condition) throw new Error(message);
}

// Polls `probe` until it returns something truthy, or fails after `ms`.
async function eventually(what, probe, ms = 15_000) {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

// --- the operator's site -------------------------------------------------------------------

let scriptUrl = '';
const host = http.createServer((request, response) => {
  if (request.url !== '/') {
    response.writeHead(404).end();
    return;
  }
  response.writeHead(200, {
    'Content-Type': 'text/html; charset=utf-8',
    // As strict as a careful shop would be: only this site and Switchboard.
    'Content-Security-Policy':
      `default-src 'self'; script-src 'self' ${BASE_URL}; connect-src 'self' ${BASE_URL}; ` +
      `style-src 'self'; img-src 'self'`,
  });
  response.end(`<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Corner Bakery</title>
<link rel="stylesheet" href="/missing.css">
</head>
<body>
<h1>Corner Bakery</h1>
<p>Fresh bread every morning.</p>
<script src="${scriptUrl}" async></script>
</body>
</html>`);
});
await new Promise((resolve) => host.listen(0, '127.0.0.1', resolve));
const port = host.address().port;
const hostOrigin = `http://127.0.0.1:${port}`;

const created = await api('POST', '/api/v1/channels', {
  kind: 'widget',
  name: 'Corner Bakery chat',
  domains: [`127.0.0.1:${port}`],
  colour: '#b45309',
  greeting: 'Hi! How can we help?',
});
if (created.status !== 201) {
  console.error(`cannot create the widget: ${created.status} ${JSON.stringify(created.body)}`);
  process.exit(1);
}
const key = created.body.account_id;
const connectionId = created.body.id;
scriptUrl = `${BASE_URL}/widget/${key}.js`;

// --- the visitor ---------------------------------------------------------------------------

async function flow(page) {
  let navigations = 0;
  page.on('framenavigated', (frame) => {
    if (frame === page.mainFrame()) navigations += 1;
  });
  await page.goto(`${hostOrigin}/`);
  expect(new URL(page.url()).origin !== new URL(BASE_URL).origin, 'the host page is on another origin');

  // Playwright's role and label locators see into the widget's open shadow root.
  await page.getByRole('button', { name: 'Chat with us' }).click();
  await page.getByText('Hi! How can we help?').waitFor();
  await page.getByLabel('Message').fill('Do you have sourdough today?');
  await page.getByRole('button', { name: 'Send', exact: true }).click();
  await page.locator('.msg.visitor:not(.pending)', { hasText: 'Do you have sourdough today?' }).waitFor();

  // The agent finds the conversation and answers through the API.
  const conversation = await eventually('the conversation', async () => {
    const r = await api('GET', `/api/v1/conversations?connection_id=${connectionId}`);
    return r.status === 200 && r.body.data.length === 1 ? r.body.data[0] : null;
  });
  expect(conversation.channel === 'widget', `channel is ${conversation.channel}`);
  const inbound = await api('GET', `/api/v1/conversations/${conversation.id}/messages`);
  expect(
    inbound.body.data.length === 1 && inbound.body.data[0].text === 'Do you have sourdough today?',
    `the agent sees the visitor's message: ${JSON.stringify(inbound.body)}`
  );
  const reply = await api('POST', `/api/v1/conversations/${conversation.id}/messages`, {
    text: 'Yes! Two loaves left, until 6 pm.',
  });
  expect(reply.status === 202, `reply answered ${reply.status}`);

  // The visitor sees it, without reloading the page.
  await page.locator('.msg.business', { hasText: 'Yes! Two loaves left, until 6 pm.' }).waitFor();
  expect(navigations === 1, `the page navigated ${navigations} times`);
  fs.mkdirSync(OUT_DIR, { recursive: true });
  await page.screenshot({ path: path.join(OUT_DIR, 'widget-reply.png') });

  // Shown in an open chat on a visible page: read.
  await eventually('the reply to be read', async () => {
    const r = await api('GET', `/api/v1/conversations/${conversation.id}/messages`);
    const m = r.body.data.find((x) => x.id === reply.body.id);
    return m && m.status === 'read';
  });

  // The host page's CSS did not reach into the widget (the launcher keeps its own colour).
  const colour = await page.evaluate(() => {
    const root = document.querySelector('[data-switchboard-widget]').shadowRoot;
    return getComputedStyle(root.querySelector('.msg.visitor')).backgroundColor;
  });
  expect(colour === 'rgb(180, 83, 9)', `the visitor's bubble is ${colour}`);

  // "Delete this conversation", confirmed: gone for the agent too, and the token forgotten.
  await page.getByRole('button', { name: 'Delete this conversation' }).click();
  await page.getByRole('button', { name: 'Yes, delete everything' }).click();
  await page.getByText('Your conversation was deleted.').waitFor();
  const after = await api('GET', `/api/v1/conversations/${conversation.id}`);
  expect(after.status === 404, `the deleted conversation answers ${after.status}`);
  const stored = await page.evaluate((k) => window.localStorage.getItem(`switchboard-widget:${k}`), key);
  expect(stored === null, 'the visitor token is forgotten');
}

// The operator requires the email before the chat: the field is there, labelled; a message
// without it or with a bad one is refused with the focus on the field; a good one is saved.
async function prechat(page) {
  const set = await api('PATCH', `/api/v1/channels/${connectionId}`, { prechat_email: 'required' });
  expect(set.status === 200, `PATCH answered ${set.status} ${JSON.stringify(set.body)}`);
  await page.goto(`${hostOrigin}/`);
  await page.getByRole('button', { name: 'Chat with us' }).click();
  const email = page.getByLabel('Your email (required to start the chat)');
  await email.waitFor();
  const focusedId = () =>
    page.evaluate(() => {
      const root = document.querySelector('[data-switchboard-widget]').shadowRoot;
      return root.activeElement ? root.activeElement.id : null;
    });
  await page.getByLabel('Message').fill('Can I order a birthday cake?');
  await page.getByRole('button', { name: 'Send', exact: true }).click();
  await page.getByRole('status').filter({ hasText: 'Enter your email address' }).waitFor();
  expect((await focusedId()) === 'sb-email', 'the focus is on the email field');
  await email.fill('not-an-email');
  await page.getByRole('button', { name: 'Send', exact: true }).click();
  await page.getByRole('status').filter({ hasText: 'name@example.com' }).waitFor();
  expect((await focusedId()) === 'sb-email', 'the focus is back on the email field');
  expect((await email.getAttribute('aria-invalid')) === 'true', 'the field is marked invalid');
  await email.fill('Cake.Lover@Example.com');
  await page.getByRole('button', { name: 'Send', exact: true }).click();
  await page.locator('.msg.visitor:not(.pending)', { hasText: 'Can I order a birthday cake?' }).waitFor();
  await email.waitFor({ state: 'hidden' });

  const conversation = await eventually('the conversation', async () => {
    const r = await api('GET', `/api/v1/conversations?connection_id=${connectionId}`);
    return r.status === 200 && r.body.data.length === 1 ? r.body.data[0] : null;
  });
  const contact = await api('GET', `/api/v1/contacts/${conversation.contact_id}`);
  expect(
    contact.body.email === 'cake.lover@example.com',
    `the contact's email is ${contact.body.email}`
  );
}

// The same site under another origin (localhost is not 127.0.0.1) is refused by CORS.
async function refused(page) {
  await page.goto(`http://localhost:${port}/`);
  await page.getByRole('button', { name: 'Chat with us' }).click();
  await page.getByRole('status').filter({ hasText: /./ }).waitFor();
  const text = await page.getByRole('status').textContent();
  expect(/unavailable|not allowed/i.test(text), `the refused page says: ${text}`);
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
for (const [name, step] of [
  ['a visitor writes, an agent answers, the visitor sees it live and deletes it', flow],
  ['a required pre-chat email is asked for, checked and saved on the contact', prechat],
  ['a page on an origin the widget does not allow is refused', refused],
]) {
  const page = await browser.newPage();
  page.setDefaultTimeout(15_000);
  try {
    await step(page);
    console.log(`ok: ${name}`);
  } catch (error) {
    failed = true;
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'switchboard-browser-failure-'));
    await page.screenshot({ path: path.join(dir, 'failure.png'), fullPage: true }).catch(() => {});
    fs.writeFileSync(path.join(dir, 'page.html'), await page.content().catch(() => ''));
    console.error(`FAILED (${name}) at ${page.url()}: ${error.message}`);
    console.error(`screenshot and page HTML: ${dir}`);
  } finally {
    await page.close();
  }
}
await browser.close();
host.close();
process.exit(failed ? 1 : 0);
