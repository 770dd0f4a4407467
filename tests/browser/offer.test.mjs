// The offer page: opened from the results, it shows the clicked title and the facts
// the API gives (ECTS, EQF), and the same page loads from its address alone.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import {
    BASE, TEST_TIMEOUT, api, apiSearch, assertClean, eventually, firstNumber, launch, open,
    screenshot, waitForResults,
} from './lib.mjs';

const FACTS = ['Provider', 'Country', 'Dates', 'Application deadline', 'Mode', 'Language',
    'ECTS credits', 'EQF level', 'Field', 'Price'];
let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

async function facts(page) {
    return page.locator('main dl').first().evaluate((dl) => {
        const out = {};
        for (const dt of dl.querySelectorAll('dt')) {
            let dd = dt.nextElementSibling;
            const values = [];
            while (dd && dd.tagName === 'DD') {
                values.push(dd.textContent.trim().replace(/\s+/g, ' '));
                dd = dd.nextElementSibling;
            }
            out[dt.textContent.trim().replace(/\s+/g, ' ')] = values.join(' ');
        }
        return out;
    });
}

test('open an offer from the results', { timeout: TEST_TIMEOUT }, async () => {
    const all = await apiSearch();
    const s = await open(browser);
    const fresh = await open(browser);
    try {
        const { page } = s;
        await page.goto(`${BASE}/`);
        await waitForResults(page, all.total);
        const link = page.locator('#results > li h2 a').nth(2);
        const title = (await link.textContent()).trim();
        const href = new URL(await link.evaluate((a) => a.href)).pathname;
        const m = /^\/offers\/([^/]+)$/.exec(href);
        assert.ok(m, `result link ${href} is not /offers/{id}`);
        const id = m[1];
        await link.click();
        await page.waitForURL((u) => u.pathname === href);

        const h1 = page.locator('main h1');
        await eventually(async () => assert.equal((await h1.textContent()).trim(), title));
        const offer = await api(`/api/v1/offers/${id}`);
        let shown;
        await eventually(async () => {
            shown = await facts(page);
            for (const name of FACTS) {
                assert.ok(name in shown, `no <dt>${name}</dt> in ${JSON.stringify(shown)}`);
                assert.ok(shown[name], `<dt>${name}</dt> has no value`);
            }
        });
        assert.equal(firstNumber(shown['ECTS credits']), offer.ects,
            `ECTS credits shown "${shown['ECTS credits']}", API ${offer.ects}`);
        assert.equal(firstNumber(shown['EQF level']), offer.eqf,
            `EQF level shown "${shown['EQF level']}", API ${offer.eqf}`);
        const apply = page.getByRole('button', { name: 'Apply', exact: true });
        assert.equal(await apply.getAttribute('id'), 'apply');
        await eventually(async () => {
            assert.ok(await page.locator('main .recognition').count() >= 1, 'no .recognition');
            assert.equal(await page.locator('#home-institution').count(), 1,
                'no #home-institution');
        });
        await screenshot(page, 'offer.png');

        // Bookmarkable: the address alone, in a fresh browser.
        await fresh.page.goto(`${BASE}${href}`);
        await eventually(async () =>
            assert.equal((await fresh.page.locator('main h1').textContent()).trim(), title));
        assertClean(s);
        assertClean(fresh);
    } finally {
        await s.close();
        await fresh.close();
    }
});
