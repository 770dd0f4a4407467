// Interface language: "Lietuvių" in #ui-lang turns the interface Lithuanian (html lang,
// labels), the choice survives a reload and other pages, and "English" turns it back.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import {
    BASE, TEST_TIMEOUT, apiSearch, assertClean, eventually, launch, open, screenshot,
    waitForResults,
} from './lib.mjs';

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

async function inLanguage(page, lang, searchLabel) {
    await eventually(async () => {
        assert.equal(await page.locator('html').getAttribute('lang'), lang, '<html lang>');
        assert.equal(await page.locator('#ui-lang').inputValue(), lang, '#ui-lang');
        const box = page.getByLabel(searchLabel, { exact: true });
        assert.equal(await box.count(), 1, `no control labelled "${searchLabel}"`);
        assert.equal(await box.getAttribute('id'), 'q');
    });
}

test('switch the interface to Lithuanian and back', { timeout: TEST_TIMEOUT }, async () => {
    const all = await apiSearch();
    const s = await open(browser);
    try {
        const { page } = s;
        await page.goto(`${BASE}/`);
        await waitForResults(page, all.total);
        await inLanguage(page, 'en', 'Search courses');
        const picker = page.getByLabel('Interface language', { exact: true });
        assert.equal(await picker.getAttribute('id'), 'ui-lang');
        await eventually(async () => {
            const options = await picker.locator('option').evaluateAll(
                (os) => os.map((o) => [o.value, o.textContent.trim()]));
            assert.deepEqual(options.filter(([v]) => v === 'en' || v === 'lt'),
                [['en', 'English'], ['lt', 'Lietuvių']], 'the options of #ui-lang');
        });

        await picker.selectOption({ label: 'Lietuvių' });
        await inLanguage(page, 'lt', 'Ieškoti kursų');
        await waitForResults(page, all.total);
        await screenshot(page, 'catalogue-lt.png');

        await page.reload();
        await inLanguage(page, 'lt', 'Ieškoti kursų');
        await waitForResults(page, all.total);
        await page.goto(`${BASE}/login`);
        await eventually(async () =>
            assert.equal(await page.locator('html').getAttribute('lang'), 'lt',
                '/login <html lang>'));
        await screenshot(page, 'login-lt.png');

        await page.goto(`${BASE}/`);
        await inLanguage(page, 'lt', 'Ieškoti kursų');
        await page.locator('#ui-lang').selectOption({ label: 'English' });
        await inLanguage(page, 'en', 'Search courses');
        await page.reload();
        await inLanguage(page, 'en', 'Search courses');
        await waitForResults(page, all.total);
        assertClean(s);
    } finally {
        await s.close();
    }
});
