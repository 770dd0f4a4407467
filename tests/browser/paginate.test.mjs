// Paging: "Show more" appends the next page (keyset cursor) until the list is whole:
// every offer once, as many as the total says.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import {
    BASE, TEST_TIMEOUT, apiSearch, assertClean, eventually, launch, open, resultLinks,
    resultTitles, screenshot, waitForResults,
} from './lib.mjs';

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

test('"Show more" appends pages until every offer is listed once', { timeout: TEST_TIMEOUT },
    async () => {
        const all = await apiSearch();
        assert.ok(all.total > 20,
            `the demo catalogue should have more than one page (${all.total})`);

        const s = await open(browser);
        try {
            const { page } = s;
            await page.goto(`${BASE}/`);
            await waitForResults(page, all.total);
            const more = page.getByRole('button', { name: 'Show more', exact: true });
            let links = await resultLinks(page);
            assert.ok(links.length < all.total,
                `the first page already lists all ${all.total} offers (no paging to test)`);

            let clicks = 0;
            while (links.length < all.total) {
                assert.ok(clicks < all.total, 'too many pages');
                await more.waitFor({ state: 'visible' });
                assert.equal(await more.getAttribute('id'), 'more');
                const before = links;
                await more.click();
                clicks++;
                links = await eventually(async () => {
                    const now = await resultLinks(page);
                    assert.ok(now.length > before.length,
                        `"Show more" added nothing (${now.length})`);
                    return now;
                });
                assert.deepEqual(links.slice(0, before.length), before,
                    '"Show more" changed the results already shown instead of appending');
            }
            assert.ok(clicks >= 1);
            assert.equal(links.length, all.total, 'more results than the total');
            assert.equal(new Set(links).size, links.length, `an offer is listed twice: ${links}`);
            const titles = await resultTitles(page);
            assert.equal(new Set(titles).size, titles.length, 'a title is listed twice');
            assert.deepEqual(new Set(links),
                new Set(all.items.map((o) => `/offers/${o.id}`)), 'not the API\'s offers');
            // The last page has no next one.
            await eventually(async () => assert.equal(await more.isVisible(), false,
                '"Show more" is still offered after the last page'));
            assert.equal(await page.locator('#results > li').count(), all.total);
            await screenshot(page, 'catalogue-all.png');
            assertClean(s);
        } finally {
            await s.close();
        }
    });
