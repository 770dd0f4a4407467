// The public verification page (/verify/{id}): valid, revoked and unknown credentials
// each say so, with the issuer, the title and the learner's name only; axe-core finds
// no serious or critical violation. test_browser.py writes the two credentials
// (MCX_VERIFY_IDS) into the registry.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import {
    BASE, TEST_TIMEOUT, assertAccessible, assertClean, eventually, launch, open, screenshot,
} from './lib.mjs';

const IDS = JSON.parse(process.env.MCX_VERIFY_IDS || '{}');
let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

async function verdict(page, id) {
    await page.goto(`${BASE}/verify/${id}`);
    const status = page.locator('#status');
    await status.waitFor();
    return { status: await status.getAttribute('data-status'), text: await page.locator('main').innerText() };
}

test('verification page: valid, revoked, unknown', { timeout: TEST_TIMEOUT }, async () => {
    assert.ok(IDS.valid && IDS.revoked, 'MCX_VERIFY_IDS has no credentials');
    const s = await open(browser);
    try {
        const { page } = s;
        const v = await verdict(page, IDS.valid);
        assert.equal(v.status, 'valid');
        assert.match(v.text, /Valid/);
        assert.match(v.text, /Ona Petraitytė/);
        assert.match(v.text, /Vytautas Magnus University/);
        assert.doesNotMatch(v.text, /@/, 'the page shows an e-mail address');
        await screenshot(page, 'verify-valid.png');
        await assertAccessible(page, 'verify');

        const r = await verdict(page, IDS.revoked);
        assert.equal(r.status, 'revoked');
        assert.match(r.text, /issued to the wrong learner/);
        await screenshot(page, 'verify-revoked.png');

        const u = await verdict(page, '00000000-0000-4000-8000-000000000000');
        assert.equal(u.status, 'unknown');
        assert.doesNotMatch(u.text, /Awarded to/);
        await eventually(async () => assert.equal(await page.locator('html').getAttribute('lang'), 'en'));
        assertClean(s);
    } finally {
        await s.close();
    }
});
