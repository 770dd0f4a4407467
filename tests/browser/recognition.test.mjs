// Recognition hint: the student picks a home university (#home-institution); with no
// agreement known yet, every result says so; the choice is remembered by the browser
// (reload, offer page).
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import {
    BASE, TEST_TIMEOUT, apiSearch, assertClean, eventually, launch, open, screenshot,
    waitForResults,
} from './lib.mjs';

const NO_AGREEMENT = /\bno\b.*\bagreements?\b.*\bknown\b/i;
const RECOGNISED = /^Recognised at .+: \d+(\.\d+)? ECTS$/;
const HOME = 'vdu.lt';
let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

async function everyResultSaysNoAgreement(page) {
    await eventually(async () => {
        const n = await page.locator('#results > li').count();
        const hints = await page.locator('#results > li .recognition').allTextContents();
        assert.equal(hints.length, n, `${n} results but ${hints.length} .recognition hints`);
        for (const h of hints) {
            assert.match(h.trim().replace(/\s+/g, ' '), NO_AGREEMENT, 'recognition hint');
        }
    });
}

test('choose a home university', { timeout: TEST_TIMEOUT }, async () => {
    const all = await apiSearch();
    const s = await open(browser);
    try {
        const { page } = s;
        await page.goto(`${BASE}/`);
        await waitForResults(page, all.total);
        const select = page.getByLabel('My home university', { exact: true });
        assert.equal(await select.getAttribute('id'), 'home-institution');
        await eventually(async () => {
            const values = await select.locator('option')
                .evaluateAll((os) => os.map((o) => o.value));
            assert.ok(values.includes(HOME), `#home-institution has no ${HOME}: ${values}`);
        });
        await select.selectOption(HOME);
        await everyResultSaysNoAgreement(page);
        await screenshot(page, 'catalogue-home.png');

        await page.reload();
        await waitForResults(page, all.total);
        await eventually(async () =>
            assert.equal(await page.locator('#home-institution').inputValue(), HOME));
        await everyResultSaysNoAgreement(page);

        await page.goto(`${BASE}/offers/${all.items[0].id}`);
        await eventually(async () => {
            assert.equal(await page.locator('#home-institution').inputValue(), HOME);
            const hint = (await page.locator('main .recognition').first().textContent()) || '';
            assert.match(hint.trim().replace(/\s+/g, ' '), NO_AGREEMENT, 'offer recognition hint');
        });
        assertClean(s);
    } finally {
        await s.close();
    }
});

// An agreement between vdu.lt and uab.cat, approved by both registrars (tokens from
// test_browser.py): the catalogue, asked with home=vdu.lt, marks exactly the offers
// the API's recognised_by covers, and the offer page says what one gives.
async function asRegistrar(inst, method, path, body) {
    const tokens = JSON.parse(process.env.MCX_REGISTRAR_TOKENS || '{}');
    assert.ok(tokens[inst], `no registrar token for ${inst} (MCX_REGISTRAR_TOKENS)`);
    const r = await fetch(`${BASE}${path}`, {
        method, body: JSON.stringify(body),
        headers: { Authorization: `Bearer ${tokens[inst]}`, 'Content-Type': 'application/json' },
    });
    const doc = await r.json();
    assert.ok(r.ok, `${method} ${path}: ${r.status} ${JSON.stringify(doc)}`);
    return doc;
}

test('an agreement shows what a course gives at home', { timeout: TEST_TIMEOUT }, async () => {
    const a = await asRegistrar('vdu.lt', 'POST', '/api/v1/agreements', {
        title: 'Baltic–Catalan micro-credential exchange', parties: [HOME, 'uab.cat'],
        valid_from: '2026-01-01', rules: [{ recognise_as: 'elective', max_credits_per_term: 15 }],
    });
    for (const inst of [HOME, 'uab.cat']) {
        await asRegistrar(inst, 'POST', `/api/v1/agreements/${a.id}/approve`, { hash: a.hash });
    }
    const covered = await apiSearch({ recognised_by: HOME });
    assert.ok(covered.total > 0, 'the agreement covers no demo offer');
    const ids = new Set(covered.items.map((o) => o.id));
    const all = await apiSearch();
    const s = await open(browser);
    try {
        const { page } = s;
        await page.goto(`${BASE}/`);
        await waitForResults(page, all.total);
        await page.locator('#home-institution').selectOption(HOME);
        await eventually(async () => {
            const items = await page.locator('#results > li').evaluateAll((lis) => lis.map((li) => ({
                id: li.dataset.id,
                hint: (li.querySelector('.recognition')?.textContent || '').trim().replace(/\s+/g, ' '),
            })));
            assert.ok(items.length > 0);
            for (const { id, hint } of items) {
                assert.match(hint, ids.has(id) ? RECOGNISED : NO_AGREEMENT, `offer ${id}`);
            }
            assert.ok(items.some(({ id }) => ids.has(id)), 'no covered offer on the first page');
        });
        await screenshot(page, 'catalogue-recognised.png');
        const one = covered.items[0];
        await page.goto(`${BASE}/offers/${one.id}`);
        await eventually(async () => {
            const hint = (await page.locator('main .recognition').first().textContent()) || '';
            assert.match(hint.trim(), RECOGNISED);
            assert.ok(hint.includes(`${one.recognition.credits} ECTS`), hint);
        });
        await screenshot(page, 'offer-recognised.png');
        assertClean(s);
    } finally {
        await s.close();
    }
});
