// Facets: the EQF counts are the API's; checking one narrows the list to that count,
// shows a removable chip and puts the filter in the URL; Back and Forward walk the
// states; removing the chip restores the full list.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import {
    BASE, TEST_TIMEOUT, apiSearch, assertClean, eventually, firstNumber, launch, open, screenshot,
    waitForResults,
} from './lib.mjs';

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

test('EQF facet, chip, URL and back button', { timeout: TEST_TIMEOUT }, async () => {
    const all = await apiSearch();
    const eqf = all.facets.eqf;
    const level = eqf['6'] && eqf['6'] < all.total ? '6'
        : Object.keys(eqf).find((k) => eqf[k] > 0 && eqf[k] < all.total);
    assert.ok(level, `no EQF level narrows the demo catalogue: ${JSON.stringify(eqf)}`);
    const count = eqf[level];

    const s = await open(browser);
    try {
        const { page } = s;
        await page.goto(`${BASE}/`);
        await waitForResults(page, all.total);

        const filters = page.locator('aside[aria-label="Filters"]');
        await eventually(async () => {
            for (const legend of ['EQF level', 'ECTS credits', 'Language', 'Field', 'Mode',
                'Institution', 'Start date']) {
                const group = filters.getByRole('group', { name: legend, exact: true });
                assert.equal(await group.count(), 1,
                    `the filters have no fieldset with the legend "${legend}"`);
            }
        });
        const group = filters.getByRole('group', { name: 'EQF level', exact: true });
        await eventually(async () => {
            for (const [value, n] of Object.entries(eqf)) {
                const label = group.locator('label').filter({
                    hasText: new RegExp(`^\\s*EQF ${value}(?!\\d)`) });
                assert.equal(await label.count(), 1,
                    `no single label "EQF ${value}" in "EQF level"`);
                const shown = await label.locator('.count').textContent({ timeout: 1000 });
                assert.equal(firstNumber(shown), n, `count shown for EQF ${value}`);
            }
        });

        const box = group.getByRole('checkbox', { name: new RegExp(`^EQF ${level}(?!\\d)`) });
        assert.equal(await box.isChecked(), false);
        await box.click();
        await eventually(async () =>
            assert.equal(await box.isChecked(), true, 'the box is not checked'));
        await waitForResults(page, count);
        const chips = page.getByRole('list', { name: 'Active filters', exact: true });
        const chip = chips.getByRole('button',
            { name: `Remove filter: EQF ${level}`, exact: true });
        await chip.waitFor({ state: 'visible' });
        await eventually(() => assert.deepEqual(new URL(page.url()).searchParams.getAll('eqf'),
            [level], `the URL ${page.url()} should carry eqf=${level}`));
        await screenshot(page, 'catalogue-filtered.png');

        // Back: the unfiltered list; Forward: the filtered one again.
        await page.goBack();
        assert.ok(page.url().startsWith(`${BASE}/`) && new URL(page.url()).pathname === '/',
            `Back should return to the unfiltered catalogue, not to ${page.url()}`);
        await waitForResults(page, all.total);
        await eventually(async () => {
            assert.equal(new URL(page.url()).searchParams.get('eqf'), null, page.url());
            assert.equal(await box.isChecked(), false, 'after Back the box is still checked');
            assert.equal(await chip.count(), 0, 'after Back the chip is still there');
        });
        await page.goForward();
        await waitForResults(page, count);
        await chip.waitFor({ state: 'visible' });
        assert.equal(await box.isChecked(), true);

        // Removing the chip restores the total.
        await chip.click();
        await waitForResults(page, all.total);
        await eventually(async () => {
            assert.equal(await chip.count(), 0, 'the chip is still there');
            assert.equal(await box.isChecked(), false, 'the box is still checked');
            assert.equal(new URL(page.url()).searchParams.get('eqf'), null, page.url());
        });
        assertClean(s);
    } finally {
        await s.close();
    }
});
