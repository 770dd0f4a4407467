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
