// Shared helpers of the browser tests (tests/browser/*.test.mjs).
//
// Every test drives Debian's chromium (/usr/bin/chromium) through playwright-core;
// nothing here downloads a browser. A browser context lets through only requests to
// the server under test (MCX_BASE_URL, on 127.0.0.1): any other request is refused,
// except a top-level navigation away from the site (the Apply button sends the
// student to the provider), which is answered with a stub page and recorded so a
// test can check where the page went. Every wait is bounded (TIMEOUT).

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';

import { chromium } from 'playwright-core';

const require = createRequire(import.meta.url);

export const BASE = (process.env.MCX_BASE_URL || '').replace(/\/+$/, '');
if (!BASE) {
    throw new Error('MCX_BASE_URL is not set (tests/browser/test_browser.py sets it; ' +
        'by hand: MCX_BASE_URL=http://127.0.0.1:8080 node --test tests/browser/)');
}
const BASE_HOST = new URL(BASE).host;
if (new URL(BASE).hostname !== '127.0.0.1') {
    throw new Error(`MCX_BASE_URL must be on 127.0.0.1 (got ${BASE}): ` +
        'the tests refuse every request to another host');
}

export const SHOTS = process.env.MCX_SCREENSHOT_DIR ||
    path.join(os.tmpdir(), 'mcx-browser-screenshots');
mkdirSync(SHOTS, { recursive: true });

// One wait (an element, a navigation, a condition). mcxd under ASan is several times
// slower than a release build, and the machine has 2 cores: generous but bounded.
export const TIMEOUT = Number(process.env.MCX_BROWSER_TIMEOUT_MS || 20000);
// One test (node:test's own timeout).
export const TEST_TIMEOUT = 120000;

export const CHROMIUM = process.env.MCX_CHROMIUM || '/usr/bin/chromium';

export async function launch() {
    return chromium.launch({
        executablePath: CHROMIUM,
        headless: true,
        args: ['--no-sandbox', '--disable-background-networking', '--disable-component-update'],
        timeout: 60000,
    });
}

// A fresh browser context (its own cookies and storage: "a fresh browser").
// Returns { context, page, blocked, external, errors, close }.
export async function open(browser, options = {}) {
    const context = await browser.newContext({
        viewport: { width: 1280, height: 800 },
        locale: 'en-GB',
        serviceWorkers: 'block', // so every request passes through context.route
        ...options,
    });
    context.setDefaultTimeout(TIMEOUT);
    context.setDefaultNavigationTimeout(TIMEOUT);
    const s = { context, blocked: [], external: [], errors: [] };
    await context.route('**/*', (route) => {
        const req = route.request();
        const url = new URL(req.url());
        if ((url.protocol === 'http:' || url.protocol === 'https:') && url.host === BASE_HOST) {
            return route.continue();
        }
        if (req.isNavigationRequest() && req.frame() === req.frame().page().mainFrame()) {
            s.external.push(req.url());
            return route.fulfill({
                status: 200,
                contentType: 'text/html',
                body: '<!doctype html><html lang="en"><title>outside</title>' +
                    '<main><h1>A page outside the test server</h1></main></html>',
            });
        }
        s.blocked.push(`${req.method()} ${req.url()}`);
        return route.abort('blockedbyclient');
    });
    context.on('page', (p) => watch(s, p));
    s.page = await context.newPage();
    s.close = () => context.close();
    return s;
}

function watch(s, page) {
    page.on('pageerror', (err) => s.errors.push(`${page.url()}: ${err.stack || err}`));
}

// What every test checks at its end: no uncaught script error and no request to
// another host (fonts, analytics, CDNs: the pages must be self-contained).
export function assertClean(s) {
    assert.deepEqual(s.errors, [], 'uncaught errors in the page');
    assert.deepEqual(s.blocked, [], 'the page asked for resources outside the test server');
}

// Polls fn (which asserts) until it passes; rethrows its last failure after timeout.
export async function eventually(fn, { timeout = TIMEOUT, interval = 100 } = {}) {
    const deadline = Date.now() + timeout;
    for (;;) {
        try {
            return await fn();
        } catch (err) {
            if (Date.now() > deadline) {
                err.message = `still failing after ${timeout} ms: ${err.message}`;
                throw err;
            }
        }
        await new Promise((r) => setTimeout(r, interval));
    }
}

export async function screenshot(page, name) {
    await page.screenshot({ path: path.join(SHOTS, name), fullPage: true, timeout: TIMEOUT });
}

// The API, from the test (not the page): JSON or an AssertionError.
export async function api(pathAndQuery, init = {}) {
    const res = await fetch(BASE + pathAndQuery, {
        ...init,
        headers: { Accept: 'application/json', ...(init.headers || {}) },
        signal: AbortSignal.timeout(TIMEOUT),
    });
    const text = await res.text();
    assert.ok(res.ok, `${init.method || 'GET'} ${pathAndQuery}: ${res.status} ${text}`);
    return text ? JSON.parse(text) : null;
}

// ---- the catalogue page (DOM contract of issue 8) ----

export function firstNumber(text) {
    const m = /\d+(?:[.,]\d+)?/.exec(text || '');
    return m ? Number(m[0].replace(',', '.')) : NaN;
}

export async function totalShown(page) {
    return firstNumber(await page.locator('#total').textContent({ timeout: 2000 }));
}

export async function resultTitles(page) {
    return (await page.locator('#results > li h2 a').allTextContents()).map((t) => t.trim());
}

export async function resultLinks(page) {
    return page.locator('#results > li h2 a').evaluateAll(
        (links) => links.map((a) => new URL(a.href).pathname));
}

// Waits until the catalogue shows `total` (a number, or the API's total when omitted
// with `query`) and a first page of results for it.
export async function waitForResults(page, total) {
    await eventually(async () => {
        assert.equal(await totalShown(page), total, '#total');
        const n = await page.locator('#results > li').count();
        assert.ok(total === 0 ? n === 0 : n > 0, `#results has ${n} items for a total of ${total}`);
    });
}

export async function apiSearch(params = {}) {
    const q = new URLSearchParams({ limit: '100', ...params });
    return api(`/api/v1/offers?${q}`);
}

// Signs a new student up through the API and in through the context's request
// client, whose cookies the context's pages share. Returns { email, password, csrf }.
export async function signedInStudent(context, label = 'student') {
    const email = `${label}-${Date.now()}-${Math.floor(Math.random() * 1e6)}@example.org`;
    const password = 'correct horse battery staple';
    const created = await context.request.post(`${BASE}/api/v1/users`, {
        data: { email, password, name: 'Test Student' }, timeout: TIMEOUT });
    assert.equal(created.status(), 201, `sign-up: ${await created.text()}`);
    const session = await context.request.post(`${BASE}/api/v1/session`, {
        data: { email, password }, timeout: TIMEOUT });
    assert.equal(session.status(), 200, `sign-in: ${await session.text()}`);
    return { email, password, csrf: (await session.json()).csrf_token };
}

export function describeUrl(u) {
    const url = new URL(u);
    return url.pathname + url.search;
}

export function axeSource() {
    return readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
}

let axeCode = null;

// axe-core on the page as it is now: no serious or critical violation. `where` names
// the page's state in the failure message.
export async function assertAccessible(page, where = '') {
    axeCode ??= axeSource();
    await page.addScriptTag({ content: axeCode });
    const results = await page.evaluate(() => window.axe.run(document, { resultTypes: ['violations'] }));
    const bad = results.violations.filter((x) => x.impact === 'serious' || x.impact === 'critical');
    assert.deepEqual(bad.map((x) => `${where ? `${where}: ` : ''}${x.id}: ${x.help} ` +
        `(${x.nodes.map((n) => n.target.join(' ')).join(', ')})`), []);
}

// Logs in through the login page, asking to come back to `next`; with `arrive` (the
// default) waits until the page is there (a refused login stays on /login).
export async function logIn(page, email, password, next, { arrive = true } = {}) {
    await page.goto(`${BASE}/login?next=${encodeURIComponent(next)}`);
    await page.getByLabel('Email', { exact: true }).fill(email);
    await page.getByLabel('Password', { exact: true }).fill(password);
    await page.getByRole('button', { name: 'Log in', exact: true }).click();
    if (arrive) await page.waitForURL((u) => u.pathname === next.split('?')[0]);
}

// SQL of a test's own, through psql on the server's database (MCX_PSQL,
// MCX_DATABASE_URL: test_browser.py sets both): the output, trimmed.
export function psql(query) {
    const r = spawnSync(process.env.MCX_PSQL || 'psql',
        [process.env.MCX_DATABASE_URL, '-XAtq', '-v', 'ON_ERROR_STOP=1', '-c', query],
        { encoding: 'utf8', timeout: TIMEOUT });
    assert.equal(r.status, 0, `psql: ${r.stderr}`);
    return r.stdout.trim();
}

// Issues one credential as the publisher whose token is given (by default of the first
// vdu.lt offer ready to issue) and waits until the outbox has delivered it.
export async function issueDelivered(token, { learner, result, key, offerId }) {
    const auth = { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' };
    let offer = offerId;
    if (!offer) {
        const offers = (await api('/api/v1/institutions/vdu.lt/offers', { headers: auth })).items;
        offer = offers.find((o) => o.completeness.missing.length === 0).id;
    }
    const issued = await api('/api/v1/credentials', {
        method: 'POST', headers: auth,
        body: JSON.stringify({ offer_id: offer, idempotency_key: key, learner, result }),
    });
    await eventually(async () => assert.equal(
        (await api(`/api/v1/credentials/${issued.id}`, { headers: auth })).state, 'delivered'),
    { timeout: 60000 });
    return issued;
}
