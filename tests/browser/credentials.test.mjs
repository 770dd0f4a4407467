// A student's credentials on /me ("My credentials"): one sealed by mcx itself (the
// fixture ran a node with the local Europass adapter, MCX_SEALED_ID) and one the EDCI
// stand-in delivered, issued here by the publisher. The student downloads the sealed
// file (the same bytes the API hands out), opens the verification page (which checks
// the eSeal), and asks for recognition of the EDCI one without uploading a file. The
// publisher's registry offers the sealed file too.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { after, before, test } from 'node:test';

import {
    BASE, TEST_TIMEOUT, api, assertAccessible, assertClean, eventually, issueDelivered, launch,
    logIn, open, screenshot,
} from './lib.mjs';

const STAFF = JSON.parse(process.env.MCX_STAFF || '{}');
const SEALED = process.env.MCX_SEALED_ID || '';
let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

const bearer = (who) => ({ Authorization: `Bearer ${STAFF[who].token}` });

test('a student downloads, checks and uses the credentials issued to them',
    { timeout: TEST_TIMEOUT }, async () => {
        assert.ok(STAFF.student && STAFF.publisher && SEALED, 'MCX_STAFF or MCX_SEALED_ID is missing');
        // one more credential for the student, through EDCI (the stand-in's viewer link)
        const issued = await issueDelivered(STAFF.publisher.token, {
            key: `me-credentials-${Date.now()}`, result: { grade: '9', date: '2026-11-28' },
            learner: { given_name: 'Eglė', family_name: 'Studentė', email: STAFF.student.email },
        });
        const sealedFile = await (await fetch(`${BASE}/api/v1/credentials/${SEALED}/sealed`,
            { headers: bearer('student') })).text();

        const s = await open(browser, { acceptDownloads: true });
        try {
            const { page } = s;
            await logIn(page, STAFF.student.email, STAFF.student.password, '/me');
            const list = page.locator('#my-credentials');
            const sealedCard = list.locator(`li[data-id="${SEALED}"]`);
            const edciCard = list.locator(`li[data-id="${issued.id}"]`);
            await page.getByRole('heading', { level: 2, name: 'My credentials', exact: true }).waitFor();
            await edciCard.waitFor();
            // newest first: the one issued just now, then the sealed one
            const ids = await list.locator(':scope > li').evaluateAll((li) => li.map((x) => x.dataset.id));
            assert.ok(ids.indexOf(issued.id) < ids.indexOf(SEALED), `order: ${ids}`);
            assert.match(await sealedCard.textContent(), /Issued on/);
            assert.match(await sealedCard.textContent(), /Vytautas Magnus University/);
            // EDCI delivered it: open it in Europass; no file here
            const viewer = edciCard.getByRole('link', { name: 'Open in Europass' });
            assert.match(await viewer.getAttribute('href'), /^https:\/\/europass\.example\/viewer\//);
            assert.equal(await edciCard.getByRole('link', { name: 'Download the sealed file' }).count(), 0);
            // sealed here: no Europass link, the file instead
            assert.equal(await sealedCard.getByRole('link', { name: 'Open in Europass' }).count(), 0);
            await assertAccessible(page, '/me with credentials');
            await screenshot(page, 'me-credentials.png');

            const link = sealedCard.getByRole('link', { name: 'Download the sealed file' });
            const [download] = await Promise.all([page.waitForEvent('download'), link.click()]);
            assert.equal(download.suggestedFilename(), `credential-${SEALED}.json`);
            const got = await readFile(await download.path(), 'utf8');
            assert.equal(got, sealedFile);
            const jades = JSON.parse(got);
            assert.equal(jades.signatures.length, 1);
            assert.equal(JSON.parse(jades.payload).id, `urn:uuid:${SEALED}`);

            // the verification page checks the eSeal
            await sealedCard.getByRole('link', { name: 'Check it' }).click();
            await page.waitForURL((u) => u.pathname === `/verify/${SEALED}`);
            await eventually(async () => assert.match(await page.locator('#verdict').textContent(),
                /Sealed by Vytautas Magnus University \(VATLT-100002513\); the file is intact/));
            assert.equal(await page.locator('#status').getAttribute('data-status'), 'valid');
            await assertAccessible(page, '/verify of a sealed credential');
            await screenshot(page, 'verify-sealed.png');

            // recognition of an issued credential, without a file
            await page.goto(`${BASE}/me`);
            await edciCard.waitFor();
            await edciCard.getByRole('button', { name: 'Ask for recognition' }).click();
            assert.equal(await page.locator('#rec-source').inputValue(), issued.id);
            assert.equal(await page.locator('#rec-file-field').isHidden(), true);
            await page.locator('#rec-target').selectOption('uab.cat');
            await page.getByRole('button', { name: 'Send request' }).click();
            await eventually(async () => assert.match(await page.locator('#rec-done').textContent(), /Request sent/));
            const mine = (await api('/api/v1/recognition-requests', { headers: bearer('student') })).items;
            const req = mine.find((r) => r.credential_format === 'registry' && r.target.institution === 'uab.cat');
            assert.ok(req, 'the request names the registry credential');
            await page.locator(`#requests li[data-id="${req.id}"]`).waitFor();
            assertClean(s);
        } finally {
            await s.close();
        }
    });

test('the publisher\'s registry offers the sealed file', { timeout: TEST_TIMEOUT }, async () => {
    const s = await open(browser, { acceptDownloads: true });
    try {
        const { page } = s;
        await logIn(page, STAFF.publisher.email, STAFF.publisher.password,
            `/publish?learner=${encodeURIComponent(STAFF.student.email)}#registry`,
            { arrive: false });
        await page.waitForURL((u) => u.pathname === '/publish');
        const row = page.locator(`#registry-table tr[data-id="${SEALED}"]`);
        await row.waitFor();
        const link = row.getByRole('link', { name: /sealed credential file/ });
        const [download] = await Promise.all([page.waitForEvent('download'), link.click()]);
        assert.equal(download.suggestedFilename(), `credential-${SEALED}.json`);
        assert.ok(JSON.parse(await readFile(await download.path(), 'utf8')).payload);
        assertClean(s);
    } finally {
        await s.close();
    }
});
