// Search: results update as the student types (debounced), the query is in the URL,
// and that URL reproduces the same result list in a fresh browser (acceptance 3).
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import {
    BASE, TEST_TIMEOUT, apiSearch, assertClean, eventually, launch, open, resultLinks,
    resultTitles, screenshot, waitForResults,
} from './lib.mjs';

const QUERY = 'data';
let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

test('search as you type, then share the URL', { timeout: TEST_TIMEOUT }, async () => {
    const all = await apiSearch();
    const expected = await apiSearch({ q: QUERY });
    assert.ok(expected.total > 0 && expected.total < all.total,
        `the demo data should give a few results for "${QUERY}" (got ${expected.total})`);

    const s = await open(browser);
    const fresh = await open(browser);
    try {
        const { page } = s;
        await page.goto(`${BASE}/`);
        await waitForResults(page, all.total);
        await screenshot(page, 'catalogue-1280.png');

        const box = page.getByRole('search').getByLabel('Search courses', { exact: true });
        assert.equal(await box.getAttribute('id'), 'q');
        assert.equal(await box.getAttribute('type'), 'search');
        const sort = page.getByLabel('Sort by', { exact: true });
        assert.equal(await sort.getAttribute('id'), 'sort');

        const searches = [];
        page.on('request', (r) => {
            if (new URL(r.url()).pathname === '/api/v1/offers') searches.push(r.url());
        });
        await box.click();
        await box.pressSequentially(QUERY, { delay: 40 });
        // No Enter: the results follow the typing.
        await waitForResults(page, expected.total);
        await eventually(() => assert.equal(new URL(page.url()).searchParams.get('q'), QUERY,
            `the URL ${page.url()} should carry q=${QUERY}`));
        assert.ok(searches.length >= 1, 'typing made no search request');
        assert.ok(searches.length < QUERY.length,
            `typing ${QUERY.length} characters made ${searches.length} search requests ` +
            `(not debounced): ${searches.join(', ')}`);
        assert.equal(new URL(searches.at(-1)).searchParams.get('q'), QUERY);

        const ids = new Set(expected.items.map((o) => `/offers/${o.id}`));
        const links = await resultLinks(page);
        for (const link of links) assert.ok(ids.has(link), `${link} is not a result of "${QUERY}"`);
        const titles = await resultTitles(page);
        assert.equal(titles.length, links.length);
        await screenshot(page, 'catalogue-search.png');

        // The shared address, in a browser that has seen nothing.
        const shared = page.url();
        await fresh.page.goto(shared);
        await waitForResults(fresh.page, expected.total);
        await eventually(async () => assert.deepEqual(await resultTitles(fresh.page), titles,
            `${shared} in a fresh browser shows other results`));
        assert.equal(await fresh.page.locator('#q').inputValue(), QUERY);
        assertClean(s);
        assertClean(fresh);
    } finally {
        await s.close();
        await fresh.close();
    }
});
