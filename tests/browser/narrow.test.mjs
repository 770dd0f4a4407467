// A phone, 360 × 740: nothing scrolls sideways, the filters wait behind a "Filters"
// button, and the results use the width.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import {
    BASE, TEST_TIMEOUT, apiSearch, assertClean, eventually, launch, open, screenshot,
    waitForResults,
} from './lib.mjs';

const WIDTH = 360;
let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

async function noSidewaysScroll(page, where) {
    const width = await page.evaluate(() => document.documentElement.scrollWidth);
    assert.ok(width <= WIDTH, `${where}: the page is ${width} px wide at a ${WIDTH} px viewport`);
}

test('catalogue and offer at 360 px', { timeout: TEST_TIMEOUT }, async () => {
    const all = await apiSearch();
    const s = await open(browser, { viewport: { width: WIDTH, height: 740 } });
    try {
        const { page } = s;
        await page.goto(`${BASE}/`);
        await waitForResults(page, all.total);
        await noSidewaysScroll(page, 'catalogue');

        const aside = page.locator('aside[aria-label="Filters"]');
        const eqf = aside.getByRole('group', { name: 'EQF level', exact: true });
        assert.equal(await aside.count(), 1, 'no <aside aria-label="Filters">');
        assert.equal(await eqf.isVisible(), false, 'the filters are open on a narrow screen');
        const button = page.getByRole('button', { name: 'Filters', exact: true });
        assert.equal(await button.isVisible(), true, 'no visible "Filters" button');

        // Readable results: the titles lie within the screen and are not tiny.
        const items = page.locator('#results > li');
        await eventually(async () => {
            for (let i = 0; i < Math.min(3, await items.count()); i++) {
                const title = items.nth(i).locator('h2 a');
                const box = await title.boundingBox({ timeout: 1000 });
                assert.ok(box && box.x >= 0 && box.x + box.width <= WIDTH + 0.5,
                    `result ${i}'s title is outside the screen: ${JSON.stringify(box)}`);
                const article = await items.nth(i).locator('article')
                    .boundingBox({ timeout: 1000 });
                assert.ok(article && article.width >= WIDTH * 0.75,
                    `result ${i} uses ${article?.width} px of ${WIDTH}`);
                const size = await title.evaluate((a) => parseFloat(getComputedStyle(a).fontSize),
                    undefined, { timeout: 1000 });
                assert.ok(size >= 14, `result ${i}'s title is ${size} px`);
            }
        });
        await screenshot(page, 'catalogue-360.png');

        await button.click();
        await eventually(async () => assert.equal(await eqf.isVisible(), true,
            '"Filters" did not show the filters'));
        const expanded = await button.getAttribute('aria-expanded');
        if (expanded !== null) assert.equal(expanded, 'true', 'aria-expanded of "Filters"');
        await noSidewaysScroll(page, 'catalogue with the filters open');
        await screenshot(page, 'catalogue-360-filters.png');

        const offer = all.items[0];
        await page.goto(`${BASE}/offers/${offer.id}`);
        await page.locator('main h1').filter({ hasText: /\S/ }).waitFor();
        await page.locator('main dl').first().waitFor();
        await noSidewaysScroll(page, 'offer page');
        await screenshot(page, 'offer-360.png');
        assertClean(s);
    } finally {
        await s.close();
    }
});

test('at 1280 px the filters show at once', { timeout: TEST_TIMEOUT }, async () => {
    const all = await apiSearch();
    const s = await open(browser);
    try {
        const { page } = s;
        await page.goto(`${BASE}/`);
        await waitForResults(page, all.total);
        const aside = page.locator('aside[aria-label="Filters"]');
        assert.equal(await aside.getByRole('group', { name: 'EQF level', exact: true }).isVisible(),
            true, 'the filters are hidden on a wide screen');
        assertClean(s);
    } finally {
        await s.close();
    }
});
