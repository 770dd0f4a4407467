// The public impact dashboard (/impact, issue 11): reachable from /, its four figures
// and its monthly table equal the API's answer (GET /api/v1/stats/impact) for the
// period it shows, the "Download CSV" link saves the API's CSV of that period, axe-core
// finds no serious or critical violation, nothing scrolls sideways at 360 px, and a
// registrar (MCX_REGISTRAR_TOKENS) also sees the per-institution table.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { after, before, test } from 'node:test';

import {
    BASE, TEST_TIMEOUT, TIMEOUT, api, assertAccessible, assertClean, eventually, launch, open,
    screenshot,
} from './lib.mjs';

const FIGURES = ['exposed', 'applied', 'issued', 'mobilities'];
const TOKENS = JSON.parse(process.env.MCX_REGISTRAR_TOKENS || '{}');
let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

const digits = (text) => Number(String(text).replace(/[^\d]/g, ''));

// Waits until the page has shown an answer, and returns the period it shows.
async function shown(page) {
    await eventually(async () => {
        assert.equal(await page.locator('.figures').getAttribute('aria-busy'), null, 'still counting');
        assert.match(await page.locator('#exposed').textContent(), /\d/);
    });
    return { from: await page.locator('#from').inputValue(), to: await page.locator('#to').inputValue() };
}

async function assertMatchesApi(page, period, headers = {}) {
    const stats = await api(`/api/v1/stats/impact?from=${period.from}&to=${period.to}`, { headers });
    assert.equal(stats.from, period.from);
    assert.equal(stats.to, period.to);
    for (const f of FIGURES) {
        assert.equal(digits(await page.locator(`#${f}`).textContent()), stats[f], `#${f}`);
    }
    const rows = page.locator('#series tbody tr');
    assert.ok(stats.series.length > 0, 'the API gave no months');
    assert.equal(await rows.count(), stats.series.length, 'one table row per month');
    for (let i = 0; i < stats.series.length; i++) {
        const m = stats.series[i];
        assert.equal(await rows.nth(i).getAttribute('data-month'), m.month);
        const cells = await rows.nth(i).locator('td').allTextContents();
        assert.deepEqual(cells.map(digits), FIGURES.map((f) => m[f]), `row of ${m.month}`);
    }
    return stats;
}

test('impact dashboard: figures, monthly table and CSV equal the API', { timeout: TEST_TIMEOUT }, async () => {
    const s = await open(browser);
    try {
        const { page } = s;
        await page.goto(`${BASE}/`);
        await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Impact', exact: true }).click();
        await page.waitForURL(`${BASE}/impact`);
        // The catalogue visit above is an exposure that mcxd writes within a flush
        // interval (--events-flush-ms, 1 s): let it land, then read the page, so that
        // the page, the JSON and the CSV below all count it.
        await page.waitForTimeout(2500);
        await page.reload();
        await page.getByRole('heading', { level: 1, name: 'Impact of the exchange', exact: true }).waitFor();
        const period = await shown(page);
        const stats = await assertMatchesApi(page, period);
        assert.equal(stats.by_institution, undefined, 'the public summary has by_institution');
        assert.equal(await page.locator('#institutions').isVisible(), false);
        for (const name of ['Students reached by the catalogue', 'Applications', 'Credentials issued',
            'Mobilities recognised']) {
            assert.equal(await page.locator('.figures dt', { hasText: name }).count(), 1, name);
        }
        const canvas = page.locator('canvas#chart');
        assert.equal(await canvas.getAttribute('role'), 'img');
        assert.match(await canvas.getAttribute('aria-label') || '', /\S/);
        await eventually(async () => assert.ok(await page.evaluate(
            () => Boolean(window.Chart && window.Chart.getChart('chart'))), 'no chart drawn'));

        // The API's CSV of the period: text/csv, one record per month of the series.
        const res = await fetch(`${BASE}/api/v1/stats/impact?from=${period.from}&to=${period.to}`,
            { headers: { Accept: 'text/csv' }, signal: AbortSignal.timeout(TIMEOUT) });
        assert.equal(res.status, 200);
        assert.match(res.headers.get('content-type'), /^text\/csv/);
        const expected = ['month,exposed,applied,issued,mobilities',
            ...stats.series.map((m) => [m.month, ...FIGURES.map((f) => m[f])].join(','))];
        const csv = await res.text();
        assert.deepEqual(csv.split('\r\n').filter(Boolean), expected);

        // The link saves the same CSV.
        const link = page.getByRole('link', { name: 'Download CSV', exact: true });
        const [download] = await Promise.all([page.waitForEvent('download'), link.click()]);
        assert.match(download.suggestedFilename(), /^mcx-impact-.*\.csv$/);
        assert.equal(await readFile(await download.path(), 'utf8'), csv);
        const [type, body] = await page.evaluate(async () => {
            const r = await fetch(document.getElementById('csv').href);
            return [r.headers.get('content-type'), await r.text()];
        });
        assert.match(type, /^text\/csv/);
        assert.equal(body, csv);

        await assertAccessible(page, 'impact');
        await screenshot(page, 'impact.png');

        // Another period through the form: the address says it, the numbers follow.
        const from = `${period.to.slice(0, 7)}-01`;
        await page.getByLabel('From', { exact: true }).fill(from);
        await page.getByRole('button', { name: 'Show', exact: true }).click();
        await page.waitForURL((u) => u.searchParams.get('from') === from);
        await eventually(async () => assert.equal(await page.locator('#series tbody tr').count(), 1));
        await assertMatchesApi(page, await shown(page));
        assertClean(s);
    } finally {
        await s.close();
    }
});

test('impact dashboard at 360 px: nothing scrolls sideways', { timeout: TEST_TIMEOUT }, async () => {
    const s = await open(browser, { viewport: { width: 360, height: 740 } });
    try {
        const { page } = s;
        await page.goto(`${BASE}/impact`);
        await shown(page);
        await screenshot(page, 'impact-360.png');
        const width = await page.evaluate(() => document.documentElement.scrollWidth);
        const wide = await page.evaluate(() => [...document.querySelectorAll('body *')]
            .filter((e) => e.getBoundingClientRect().right > 360.5 && !e.closest('.visually-hidden'))
            .map((e) => `${e.tagName.toLowerCase()}${e.id ? `#${e.id}` : ''}.${e.className}`));
        assert.ok(width <= 360, `the page is ${width} px wide at a 360 px viewport: ${wide.join(', ')}`);
        assertClean(s);
    } finally {
        await s.close();
    }
});

test('impact dashboard for a registrar: per institution', { timeout: TEST_TIMEOUT }, async () => {
    assert.ok(TOKENS['vdu.lt'], 'MCX_REGISTRAR_TOKENS has no vdu.lt registrar');
    const headers = { Authorization: `Bearer ${TOKENS['vdu.lt']}` };
    const s = await open(browser, { extraHTTPHeaders: headers });
    try {
        const { page } = s;
        await page.goto(`${BASE}/impact`);
        const period = await shown(page);
        const stats = await assertMatchesApi(page, period, headers);
        assert.ok(stats.by_institution, 'a registrar gets no by_institution');
        const rows = page.locator('#institutions tbody tr');
        await eventually(async () => assert.equal(await rows.count(), Object.keys(stats.by_institution).length));
        for (const [id, f] of Object.entries(stats.by_institution)) {
            const cells = await page.locator(`#institutions tr[data-institution="${id}"] td`).allTextContents();
            assert.deepEqual(cells.map(digits), FIGURES.map((k) => f[k]), id);
        }
        await assertAccessible(page, 'impact for staff');
        await screenshot(page, 'impact-staff.png');
        assertClean(s);
    } finally {
        await s.close();
    }
});
