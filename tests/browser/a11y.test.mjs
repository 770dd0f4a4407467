// Accessibility: axe-core (from npm, injected into the page) finds no serious or
// critical violation on the catalogue, an offer, /login, /signup and /me
// (acceptance 5).
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import {
    BASE, TEST_TIMEOUT, apiSearch, assertClean, axeSource, eventually, launch, open,
    signedInStudent, waitForResults,
} from './lib.mjs';

const AXE = axeSource();
let browser;
let all;
before(async () => {
    browser = await launch();
    all = await apiSearch();
});
after(async () => { await browser?.close(); });

async function axe(page) {
    await page.addScriptTag({ content: AXE });
    return page.evaluate(() => window.axe.run(document, { resultTypes: ['violations'] }));
}

function report(where, violations) {
    return violations.map((v) => [
        `${where}: ${v.id} (${v.impact}): ${v.help}`,
        `  ${v.helpUrl}`,
        ...v.nodes.map((n) => `  - ${n.target.join(' ')}\n    ${(n.failureSummary || '')
            .replace(/\n/g, '\n    ')}`),
    ].join('\n')).join('\n');
}

async function check(where, url, ready, { signIn = false } = {}) {
    const s = await open(browser);
    try {
        const { page } = s;
        if (signIn) {
            const me = await signedInStudent(s.context, 'axe');
            const offer = all.items[0];
            const res = await s.context.request.post(
                `${BASE}/api/v1/offers/${offer.id}/applications`,
                { headers: { 'X-CSRF-Token': me.csrf } });
            assert.equal(res.status(), 201, await res.text());
        }
        await page.goto(`${BASE}${url}`);
        await ready(page);
        const results = await axe(page);
        const bad = results.violations.filter(
            (v) => v.impact === 'serious' || v.impact === 'critical');
        if (bad.length) assert.fail(`axe-core on ${url}:\n${report(where, bad)}`);
        assertClean(s);
    } finally {
        await s.close();
    }
}

const heading = (page) => page.locator('main h1').filter({ hasText: /\S/ }).waitFor();

test('axe: catalogue', { timeout: TEST_TIMEOUT }, () =>
    check('catalogue', '/', (page) => waitForResults(page, all.total)));

test('axe: catalogue with a search and a filter', { timeout: TEST_TIMEOUT }, () =>
    check('catalogue', '/?q=data&eqf=6', async (page) => {
        const expected = await apiSearch({ q: 'data', eqf: '6' });
        await waitForResults(page, expected.total);
        await page.getByRole('list', { name: 'Active filters', exact: true })
            .getByRole('button').first().waitFor();
    }));

test('axe: offer', { timeout: TEST_TIMEOUT }, () =>
    check('offer', `/offers/${all.items[0].id}`, async (page) => {
        await heading(page);
        await page.locator('main dl').first().waitFor();
    }));

test('axe: login', { timeout: TEST_TIMEOUT }, () =>
    check('login', '/login', async (page) => {
        await page.getByRole('button', { name: 'Log in', exact: true }).waitFor();
    }));

test('axe: signup', { timeout: TEST_TIMEOUT }, () =>
    check('signup', '/signup', async (page) => {
        await page.getByRole('button', { name: 'Create account', exact: true }).waitFor();
    }));

test('axe: my applications', { timeout: TEST_TIMEOUT }, () =>
    check('me', '/me', async (page) => {
        await page.getByRole('heading', { level: 1, name: 'My applications', exact: true })
            .waitFor();
        await eventually(async () => assert.equal(
            await page.locator(`main a[href$="/offers/${all.items[0].id}"]`).count() > 0, true,
            '/me does not list the application'));
    }, { signIn: true }));
