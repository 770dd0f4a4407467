// The publisher's dashboard (/publish, issue 11): publish → issue → verify, through the
// page, against a real mcxd whose outbox delivers to the EDCI stand-in
// (test_browser.py, MCX_STAFF). The vdu.lt publisher logs in, uploads a LOQ file with
// one new offer and one invalid one (fixtures/publisher-loq.xml) and reads the
// per-item report; the new offer is listed with completeness warnings; "Fix" opens
// its credential template, which is completed and saved (the offer is then Ready); a
// Moodle gradebook export is previewed (nothing queued: the API says so) and issued,
// with a progress bar until every credential is delivered; the registry lists them,
// one's /verify page says valid, it is revoked with a reason and /verify says
// revoked; the CSV export holds the rows. axe-core finds no serious or critical
// violation in any section; screenshots at 1280 and 360 px. The institution's default
// credential template is set from the page (an offer without its own then inherits
// it, in the API and on the page), a bad country shows the server's message, and the
// page's Remove button takes it away again. A student, a signed-out visitor and a
// session the API refuses (403) see who the page is for.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';

import {
    BASE, TEST_TIMEOUT, TIMEOUT, assertAccessible, assertClean, eventually, launch, logIn, open,
    screenshot,
} from './lib.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const STAFF = JSON.parse(process.env.MCX_STAFF || '{}');
const PUB = STAFF.publisher || {};
const INST = PUB.institution || 'vdu.lt';
// the flow waits for the outbox and the stand-in too
const FLOW_TIMEOUT = Math.max(TEST_TIMEOUT, 180000);
let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

// ---- helpers ----

async function call(pathAndQuery, {
    token = PUB.token, method = 'GET', accept = 'application/json', headers = {}, body,
} = {}) {
    const res = await fetch(BASE + pathAndQuery, {
        method, headers: { Accept: accept, Authorization: `Bearer ${token}`, ...headers }, body,
        signal: AbortSignal.timeout(TIMEOUT),
    });
    const text = await res.text();
    return { status: res.status, text, json: () => JSON.parse(text) };
}

async function apiAs(pathAndQuery, opts) {
    const r = await call(pathAndQuery, opts);
    assert.ok(r.status >= 200 && r.status < 300, `${pathAndQuery}: ${r.status} ${r.text}`);
    return r.json();
}

async function tab(page, name, hash) {
    await page.getByRole('navigation', { name: 'Publishing sections' })
        .getByRole('link', { name, exact: true }).click();
    await page.waitForURL((u) => u.hash === `#${hash}`);
    await page.locator(`section#${hash}`).waitFor();
}

// The line (1-based) of the nth (0-based) match of re in text.
function lineOf(text, re, nth = 0) {
    const lines = text.split('\n');
    let seen = -1;
    for (let i = 0; i < lines.length; i++) {
        if (re.test(lines[i]) && ++seen === nth) return i + 1;
    }
    throw new Error(`no match ${nth} of ${re}`);
}

function moodleCsv(run) {
    // Moodle's "Export to plain text file", comma separated, Real display type
    const rows = [
        ['Ona', 'Petraitytė', 'S1001', 'VMU', 'Journalism', `ona.${run}@example.lt`, '92.50'],
        ['Jonas', 'Kazlauskas', 'S1002', 'VMU', 'Journalism', `jonas.${run}@example.lt`, '78.00'],
        ['Eglė', 'Jankauskienė', 'S1003', 'VMU', 'Journalism', `egle.${run}@example.lt`, '61.00'],
        ['Lukas', 'Stankevičius', 'S1004', 'VMU', 'Journalism', `lukas.${run}@example.lt`, '45.00'],
        ['Rūta', 'Vasiliauskaitė', 'S1005', 'VMU', 'Journalism', `ruta.${run}@example.lt`, '88.00'],
        ['Tomas', 'Žukauskas', 'S1006', 'VMU', 'Journalism', 'tomas-at-example.lt', '95.00'],
    ];
    const head = ['First name', 'Last name', 'ID number', 'Institution', 'Department', 'Email address',
        'Course total (Real)', 'Last downloaded from this course'];
    const when = String(Math.floor(Date.now() / 1000) - 3600);
    const q = (v) => (/[",\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v);
    return [head, ...rows.map((r) => [...r, when])].map((r) => r.map(q).join(',')).join('\n') + '\n';
}

const EXPECTED_ROWS = { 1: 'queued', 2: 'queued', 3: 'queued', 4: 'below_pass_mark', 5: 'queued', 6: 'invalid' };

// ---- publish → issue → verify ----

test('publisher: publish, complete the template, issue from Moodle, verify, revoke, export',
    { timeout: FLOW_TIMEOUT }, async () => {
        assert.ok(PUB.email && PUB.token, 'MCX_STAFF has no publisher (test_browser.py sets it)');
        const run = `${Date.now().toString(36)}`;
        const loq = readFileSync(path.join(HERE, 'fixtures', 'publisher-loq.xml'), 'utf8')
            .replace(/VDU-MC-(279\d)/g, `VDU-MC-$1-${run}`);
        const goodId = `VDU-MC-2790-${run}`;
        const badId = `VDU-MC-2791-${run}`;
        const badLine = lineOf(loq, /<learningOpportunity /, 1);

        const s = await open(browser, { acceptDownloads: true });
        try {
            const { page } = s;
            await logIn(page, PUB.email, PUB.password, '/publish');
            const nav = page.getByRole('navigation', { name: 'Main' });
            await nav.getByRole('link', { name: 'Publishing', exact: true }).waitFor();
            await page.getByRole('heading', { level: 1, name: 'Publishing', exact: true }).waitFor();
            await page.locator('#offers-table:not([aria-busy]) tbody tr').first().waitFor();
            await assertAccessible(page, 'offers');
            await screenshot(page, 'publish-offers-1280.png');

            // ---- upload a LOQ file: 1 accepted, 1 rejected with its line ----
            await tab(page, 'Upload LOQ', 'upload');
            await page.getByLabel('LOQ file (XML)').setInputFiles({
                name: 'catalogue.xml', mimeType: 'application/xml', buffer: Buffer.from(loq) });
            await page.getByRole('button', { name: 'Upload and check', exact: true }).click();
            const report = page.locator('#upload-report');
            await report.waitFor();
            const count = (k) => report.locator(`[data-count="${k}"] dd`).textContent();
            assert.equal(await count('accepted'), '1');
            assert.equal(await count('rejected'), '1');
            const bad = page.locator(`#rejected-table tr[data-external-id="${badId}"]`);
            await bad.waitFor();
            assert.equal((await bad.locator('td.pub-line').textContent()).trim(), String(badLine));
            assert.match(await bad.locator('td.details').textContent(), /notAnElementOfLoq/);
            assert.equal(await page.locator(`#rejected-table tr[data-external-id="${goodId}"]`).count(), 0);
            await assertAccessible(page, 'upload');
            await screenshot(page, 'publish-upload-1280.png');

            // ---- the new offer, with completeness warnings as the API says ----
            const listed = await apiAs(`/api/v1/institutions/${INST}/offers`);
            const offer = listed.items.find((o) => o.external_id === goodId);
            assert.ok(offer, `${goodId} is not in the API's list`);
            assert.ok(offer.completeness.missing.length > 0, 'the new offer should lack something');
            for (const m of ['assessment', 'quality_assurance', 'eqf']) {
                assert.ok(offer.completeness.missing.includes(m), `the API does not report ${m} missing`);
            }
            await tab(page, 'Offers', 'offers');
            const row = page.locator(`#offers-table tr[data-external-id="${goodId}"]`);
            await row.waitFor();
            assert.equal(await row.locator('[data-ready]').getAttribute('data-ready'), 'false');
            assert.equal(await row.locator('[data-missing]').getAttribute('data-missing'), offer.completeness.missing.join(' '));
            assert.match(await row.locator('.pub-warning').textContent(), /Missing: .*assessment.*quality assurance/);
            assert.equal((await row.locator('th').textContent()).trim(), 'Open data journalism');

            // ---- not issuable yet: the issue section says so, and so does the server ----
            await page.goto(`${BASE}/publish?offer=${offer.id}#issue`);
            await eventually(async () => assert.match(
                await page.locator('#issue-offer-state').textContent(), /lacks .*assessment.*nothing can be issued/));
            const refused = await call(`/api/v1/credentials/import?offer_id=${offer.id}&dry_run=1`, {
                method: 'POST', headers: { 'Content-Type': 'text/csv' },
                body: 'First name,Last name,Email address,Course total (Real)\r\nOna,P,ona.p@example.lt,90\r\n',
            });
            assert.equal(refused.status, 422, refused.text);
            await tab(page, 'Offers', 'offers');
            await row.waitFor();

            // ---- Fix → the template editor; fill what is missing, save ----
            await row.getByRole('link', { name: /^Fix/ }).click();
            await page.waitForURL((u) => u.searchParams.get('offer') === offer.id && u.hash === '#template');
            await page.locator('#template-body').waitFor();
            assert.equal(await page.locator('#template-completeness').getAttribute('data-missing'),
                offer.completeness.missing.join(' '));
            // the awarding body comes from the institution's record
            assert.equal(await page.getByLabel('Institution id').inputValue(), INST);
            assert.equal(await page.getByLabel('Country code').inputValue(), 'LT');
            await page.getByLabel('EQF level', { exact: true }).selectOption('5');
            await page.getByLabel('Assessment (English)').fill(
                'A data story of about 800 words with its cleaned dataset, marked by two editors.');
            await page.getByLabel('Quality assurance (English)').fill(
                'Approved by the VMU Faculty of Political Science and Diplomacy study programme committee.');
            // a bad country first: the server's message, next to the form
            await page.getByLabel('Country code').fill('XX');
            await page.getByRole('button', { name: 'Save template', exact: true }).click();
            await eventually(async () => assert.match(await page.locator('#template-error').textContent(), /awarding_body\.country/));
            assert.equal(await page.getByLabel('Country code').getAttribute('aria-invalid'), 'true');
            await page.getByLabel('Country code').fill('LT');
            await page.getByRole('button', { name: 'Save template', exact: true }).click();
            await eventually(async () => assert.match(await page.locator('#template-saved').textContent(), /Nothing mandatory is missing/));
            assert.equal(await page.locator('#template-completeness').getAttribute('data-missing'), '');
            const tpl = await apiAs(`/api/v1/offers/${offer.id}/credential-template`);
            assert.deepEqual(tpl.completeness.missing, []);
            assert.equal(tpl.template.eqf, 5);
            assert.equal(tpl.template.awarding_body.id, INST);
            await assertAccessible(page, 'template');
            await screenshot(page, 'publish-template-1280.png');

            await tab(page, 'Offers', 'offers');
            await eventually(async () => assert.equal(await row.locator('[data-ready]').getAttribute('data-ready'), 'true'));
            assert.equal((await row.locator('.pill').textContent()).trim(), 'Ready');

            // ---- issue from Moodle: the preview queues nothing ----
            await tab(page, 'Issue from Moodle', 'issue');
            const issue = page.locator('section#issue');
            await issue.getByLabel('Offer', { exact: true }).selectOption(offer.id);
            await issue.getByLabel('Pass mark').fill('60');
            await issue.getByLabel('Gradebook export (CSV)').setInputFiles({
                name: 'grades.csv', mimeType: 'text/csv', buffer: Buffer.from(moodleCsv(run)) });
            await issue.getByRole('button', { name: 'Preview', exact: true }).click();
            await page.locator('#preview-table tbody tr').first().waitFor();
            for (const [r, status] of Object.entries(EXPECTED_ROWS)) {
                assert.equal(await page.locator(`#preview-table tr[data-row="${r}"]`).getAttribute('data-status'), status, `row ${r}`);
            }
            assert.match(await page.locator('#preview-table tr[data-row="4"]').textContent(), /below the pass mark/);
            const none = await apiAs(`/api/v1/credentials?offer_id=${offer.id}`);
            assert.equal(none.items.length, 0, 'the preview queued credentials');
            await assertAccessible(page, 'issue preview');
            await screenshot(page, 'publish-preview-1280.png');

            // ---- issue: the progress bar reaches every credential delivered ----
            await issue.getByRole('button', { name: 'Issue 4 credentials', exact: true }).click();
            await page.locator('#sending').waitFor();
            const bar = page.getByRole('progressbar', { name: /^Credentials sent/ });
            await bar.waitFor();
            await eventually(async () => {
                assert.equal(await page.locator('#send-text').getAttribute('data-done'), 'true');
            }, { timeout: 60000 });
            assert.match(await page.locator('#send-text').textContent(), /^4 of 4 sent/);
            assert.equal(await bar.evaluate((b) => [b.value, b.max].join('/')), '4/4');
            assert.equal(await page.locator('#failed-box').isVisible(), false);
            const issued = await apiAs(`/api/v1/credentials?offer_id=${offer.id}`);
            assert.equal(issued.items.length, 4);
            assert.ok(issued.items.every((c) => c.state === 'delivered'), JSON.stringify(issued.items.map((c) => c.state)));
            await assertAccessible(page, 'issue progress');
            await screenshot(page, 'publish-issued-1280.png');

            // ---- the registry: every credential of the offer ----
            await page.getByRole('link', { name: 'See them in the registry', exact: true }).click();
            await page.waitForURL((u) => u.hash === '#registry');
            const reg = page.locator('#registry-table');
            await eventually(async () => assert.equal(await reg.locator('tbody tr').count(), 4));
            assert.equal(await page.locator('section#registry').getByLabel('Offer', { exact: true }).inputValue(), offer.id);
            for (const c of issued.items) {
                const tr = reg.locator(`tr[data-id="${c.id}"]`);
                assert.equal(await tr.getAttribute('data-state'), 'delivered');
                assert.equal(await tr.locator('a.pub-verify').getAttribute('href'), `/verify/${c.id}`);
            }
            await assertAccessible(page, 'registry');
            await screenshot(page, 'publish-registry-1280.png');

            // ---- verify one: valid ----
            const ona = issued.items.find((c) => c.learner.email === `ona.${run}@example.lt`);
            assert.ok(ona, 'no credential for Ona');
            const onaRow = reg.locator(`tr[data-id="${ona.id}"]`);
            const verify = await s.context.newPage();
            await verify.goto(BASE + await onaRow.locator('a.pub-verify').getAttribute('href'));
            await verify.locator('#status[data-status="valid"]').waitFor();

            // ---- revoke it: a reason is required; then /verify says revoked ----
            await onaRow.getByRole('button', { name: /^Revoke/ }).click();
            const dialog = page.getByRole('dialog', { name: 'Revoke this credential?' });
            await dialog.waitFor();
            await dialog.getByRole('button', { name: 'Revoke credential', exact: true }).click();
            await eventually(async () => assert.match(await dialog.locator('[role="alert"]').textContent(), /reason/i));
            assert.equal((await apiAs(`/api/v1/credentials/${ona.id}`)).state, 'delivered');
            await assertAccessible(page, 'revoke dialog');
            const reason = 'Issued for the wrong course run; a corrected credential follows.';
            await dialog.getByLabel('Reason', { exact: true }).fill(reason);
            await dialog.getByRole('button', { name: 'Revoke credential', exact: true }).click();
            await eventually(async () => assert.equal(await onaRow.getAttribute('data-state'), 'revoked'));
            assert.equal(await dialog.isVisible(), false);
            assert.match(await page.locator('#registry-status').textContent(), /Revoked/);
            const revoked = await apiAs(`/api/v1/credentials/${ona.id}`);
            assert.equal(revoked.state, 'revoked');
            assert.equal(revoked.revoke_reason, reason);
            await verify.reload();
            await verify.locator('#status[data-status="revoked"]').waitFor();
            assert.match(await verify.locator('main').textContent(), /wrong course run/);
            await verify.close();

            // ---- the state filter and the CSV export ----
            await page.locator('section#registry').getByLabel('State', { exact: true }).selectOption('revoked');
            await page.waitForURL((u) => u.searchParams.get('state') === 'revoked');
            await eventually(async () => assert.equal(await reg.locator('tbody tr').count(), 1));
            await page.locator('section#registry').getByLabel('State', { exact: true }).selectOption('');
            await eventually(async () => assert.equal(await reg.locator('tbody tr').count(), 4));
            const [download] = await Promise.all([
                page.waitForEvent('download'),
                page.getByRole('button', { name: 'Export CSV', exact: true }).click(),
            ]);
            assert.match(download.suggestedFilename(), /^credentials-vdu\.lt-\d{4}-\d{2}-\d{2}\.csv$/);
            const csv = readFileSync(await download.path(), 'utf8');
            const lines = csv.trim().split(/\r?\n/);
            assert.match(lines[0], /^credential_id,offer_id,title,learner,email/);
            assert.equal(lines.length, 5, csv);
            for (const c of issued.items) assert.ok(csv.includes(c.id), `CSV lacks ${c.id}`);
            assert.ok(csv.includes(`ona.${run}@example.lt`));
            assert.match(lines.find((l) => l.startsWith(ona.id)), /revoked/);

            // ---- 360 px: every section, no sideways scrolling of the page ----
            await page.setViewportSize({ width: 360, height: 780 });
            for (const [name, hash] of [['Offers', 'offers'], ['Credential template', 'template'],
                ['Upload LOQ', 'upload'], ['Issue from Moodle', 'issue'], ['Registry', 'registry']]) {
                await tab(page, name, hash);
                const wide = await page.evaluate(() => document.documentElement.scrollWidth);
                const culprits = wide <= 360 ? [] : await page.evaluate(() => [...document.querySelectorAll('body *')]
                    .filter((e) => e.getBoundingClientRect().right > 361 && !(e.parentElement && e.parentElement.closest('.table-scroll')))
                    .slice(0, 8).map((e) => `${e.tagName.toLowerCase()}#${e.id}.${e.className}`));
                assert.ok(wide <= 360, `${hash} at 360 px is ${wide} px wide: ${culprits.join(', ')}`);
                await screenshot(page, `publish-${hash}-360.png`);
            }

            // ---- Lithuanian ----
            await page.setViewportSize({ width: 1280, height: 800 });
            await tab(page, 'Offers', 'offers');
            await page.getByLabel('Interface language').selectOption('lt');
            await page.getByRole('heading', { level: 1, name: 'Publikavimas' }).waitFor();
            await eventually(async () => assert.equal((await row.locator('.pill').textContent()).trim(), 'Parengta'));
            await screenshot(page, 'publish-lt.png');
            await page.getByLabel('Sąsajos kalba').selectOption('en');
            assertClean(s);
        } finally {
            await s.close();
        }
    });

// ---- the institution's default credential template ----

test('publisher: the institution\'s default credential template', { timeout: TEST_TIMEOUT }, async () => {
    const DEFAULT_API = `/api/v1/institutions/${INST}/credential-template`;
    const before = await apiAs(DEFAULT_API);
    assert.equal(before.institution, INST);
    assert.equal(before.template, null, 'a default template was left behind');
    const listed = await apiAs(`/api/v1/institutions/${INST}/offers`);
    const plain = listed.items.find((o) => o.template === 'none');
    assert.ok(plain, `${INST} has no offer without a template of its own`);
    const qa = 'Every course is approved by the VMU Study Quality Committee and reviewed every two years.';
    const assessment = 'A final project assessed by two lecturers against published criteria.';

    const s = await open(browser);
    try {
        const { page } = s;
        await logIn(page, PUB.email, PUB.password, '/publish');
        await page.locator('#offers-table:not([aria-busy]) tbody tr').first().waitFor();
        const line = page.locator('#default-line');
        await eventually(async () => assert.match(await line.textContent(), /^Default credential template: none\./));

        // ---- the default editor: the same form, without the offer's hints or completeness ----
        await line.getByRole('link', { name: 'Edit the default template', exact: true }).click();
        await page.waitForURL((u) => u.searchParams.get('offer') === 'default' && u.hash === '#template');
        await page.locator('#template-body').waitFor();
        await page.getByRole('heading', { level: 2, name: /^Default credential template of \S/ }).waitFor();
        assert.equal(await page.locator('#template-completeness').isVisible(), false);
        for (const id of ['t-ects-from', 't-eqf-from', 'outcomes-from', 'assessment-from', 'qa-from']) {
            assert.equal(await page.locator(`#${id}`).isVisible(), false, `#${id} shows an offer's value`);
        }
        assert.equal(await page.getByRole('button', { name: 'Remove the default', exact: true }).count(), 0);
        // no default yet: the awarding body comes from the institution's record
        assert.equal(await page.getByLabel('Institution id').inputValue(), INST);
        assert.equal(await page.getByLabel('Country code').inputValue(), 'LT');
        assert.notEqual(await page.getByLabel('Name (English)').inputValue(), '');
        await page.getByLabel('Assessment (English)').fill(assessment);
        await page.getByLabel('Quality assurance (English)').fill(qa);
        // a bad country first: the server's message, as for an offer
        await page.getByLabel('Country code').fill('XX');
        await page.getByRole('button', { name: 'Save template', exact: true }).click();
        await eventually(async () => assert.match(await page.locator('#template-error').textContent(), /^Not saved: awarding_body\.country/));
        assert.equal(await page.getByLabel('Country code').getAttribute('aria-invalid'), 'true');
        assert.equal((await apiAs(DEFAULT_API)).template, null, 'the refused default was stored');
        await page.getByLabel('Country code').fill('LT');
        await page.getByRole('button', { name: 'Save template', exact: true }).click();
        await eventually(async () => assert.match(await page.locator('#template-saved').textContent(), /^Saved\. Every offer without a template of its own now uses it/));
        assert.equal(await page.locator('#template-error').textContent(), '');

        // ---- the API has it, and the offer without its own template inherits it ----
        const saved = await apiAs(DEFAULT_API);
        assert.equal(saved.template.awarding_body.id, INST);
        assert.equal(saved.template.awarding_body.country, 'LT');
        assert.equal(saved.template.quality_assurance.en, qa);
        assert.equal(saved.template.assessment.en, assessment);
        assert.ok(saved.updated_at, 'no updated_at');
        const after = await apiAs(`/api/v1/institutions/${INST}/offers`);
        assert.equal(after.items.find((o) => o.id === plain.id).template, 'inherited');
        const inheriting = after.items.filter((o) => o.template === 'inherited').length;
        await eventually(async () => assert.match(await page.locator('#template-offer').textContent(),
            new RegExp(`Used by ${inheriting} offers? without`)));
        assert.equal(await page.getByRole('button', { name: 'Remove the default', exact: true }).isVisible(), true);
        await assertAccessible(page, 'default template');
        await screenshot(page, 'publish-default-template-1280.png');

        // ---- the offers list says so, and the offer's own editor links to the default ----
        await tab(page, 'Offers', 'offers');
        await eventually(async () => assert.match(await line.textContent(),
            new RegExp(`^Default credential template: set, used by ${inheriting} offers?\\.`)));
        const row = page.locator(`#offers-table tr[data-id="${plain.id}"]`);
        await eventually(async () => assert.equal(await row.locator('.pub-tpl').getAttribute('data-template'), 'inherited'));
        assert.match(await row.locator('.pub-tpl').textContent(), /^Uses the default template/);
        await screenshot(page, 'publish-offers-default-1280.png');
        await row.getByRole('link', { name: /^(Template|Fix)\b/ }).click();
        await page.waitForURL((u) => u.searchParams.get('offer') === plain.id && u.hash === '#template');
        const intro = page.locator('#template-intro');
        await eventually(async () => assert.match(await intro.textContent(), /uses your institution’s default template; saving here gives it a template of its own/));
        assert.equal(await page.getByLabel('Quality assurance (English)').inputValue(), qa);
        await intro.getByRole('link', { name: 'Edit the default template', exact: true }).click();
        await page.waitForURL((u) => u.searchParams.get('offer') === 'default' && u.hash === '#template');
        await page.getByRole('heading', { level: 2, name: /^Default credential template of / }).waitFor();

        // ---- 360 px: no sideways scrolling ----
        await page.setViewportSize({ width: 360, height: 780 });
        await page.getByRole('button', { name: 'Remove the default', exact: true }).waitFor();
        assert.ok(await page.evaluate(() => document.documentElement.scrollWidth) <= 360, 'the default editor is wider than 360 px');
        await screenshot(page, 'publish-default-template-360.png');
        await page.setViewportSize({ width: 1280, height: 800 });

        // ---- Lithuanian ----
        await page.getByLabel('Interface language').selectOption('lt');
        await page.getByRole('heading', { level: 2, name: /^Numatytasis kredencialo šablonas: / }).waitFor();
        await page.getByRole('button', { name: 'Pašalinti numatytąjį', exact: true }).waitFor();
        await screenshot(page, 'publish-default-template-lt.png');
        await page.getByLabel('Sąsajos kalba').selectOption('en');
        await page.getByRole('heading', { level: 2, name: /^Default credential template of / }).waitFor();

        // ---- remove it through the page, after the confirmation ----
        await page.getByRole('button', { name: 'Remove the default', exact: true }).click();
        const dialog = page.getByRole('dialog', { name: 'Remove the default template?' });
        await dialog.waitFor();
        assert.match(await dialog.textContent(), new RegExp(`${inheriting} offers? uses? it now`));
        await dialog.getByRole('button', { name: 'Remove the default template', exact: true }).click();
        await eventually(async () => assert.match(await page.locator('#template-saved').textContent(), /^Removed\./));
        assert.equal(await dialog.isVisible(), false);
        assert.equal(await page.getByRole('button', { name: 'Remove the default', exact: true }).count(), 0);
        assert.equal(await page.getByLabel('Quality assurance (English)').inputValue(), '');
        const gone = await apiAs(DEFAULT_API);
        assert.equal(gone.template, null);
        const afterRemoval = await apiAs(`/api/v1/institutions/${INST}/offers`);
        assert.equal(afterRemoval.items.find((o) => o.id === plain.id).template, 'none');
        await tab(page, 'Offers', 'offers');
        await eventually(async () => assert.match(await line.textContent(), /^Default credential template: none\./));
        await eventually(async () => assert.equal(await row.locator('.pub-tpl').getAttribute('data-template'), 'none'));
        assertClean(s);
    } finally {
        await s.close();
        // whatever happened above, the other tests see the demo offers as before
        const left = await call(DEFAULT_API);
        if (left.status === 200 && left.json().template) await call(DEFAULT_API, { method: 'DELETE' });
    }
});

// ---- who the page is for ----

test('publisher: a failed credential is sent again from the registry', { timeout: TEST_TIMEOUT }, async () => {
    // test_browser.py put one in the registry: EDCI refused it (a wrong access token)
    const failed = (await apiAs('/api/v1/credentials?state=failed&learner=jonas@example.lt')).items[0];
    assert.ok(failed, 'the fixture has no failed credential');
    const s = await open(browser);
    try {
        const { page } = s;
        await logIn(page, PUB.email, PUB.password, '/publish?state=failed#registry');
        const row = page.locator(`#registry-table tr[data-id="${failed.id}"]`);
        await row.waitFor();
        assert.equal(await row.getAttribute('data-state'), 'failed');
        assert.match(await row.textContent(), /access token was refused/);
        assert.equal(await row.locator('a.pub-verify').count(), 0, 'a failed credential has no Verify link');
        await assertAccessible(page, 'registry with a failed credential');
        await row.getByRole('button', { name: 'Send again: the credential of Jonas Jonaitis', exact: true }).click();
        await eventually(async () => assert.match(await page.locator('#registry-status').textContent(),
            /queued again as a new credential/));
        // a new credential, reissue_of the failed one, reaches the issuer; the old one stays failed
        const again = await eventually(async () => {
            const all = (await apiAs('/api/v1/credentials?learner=jonas@example.lt')).items;
            const next = all.find((c) => c.reissue_of === failed.id);
            assert.ok(next, 'no reissue of the failed credential');
            assert.equal(next.state, 'delivered');
            return next;
        }, { timeout: 60000 });
        assert.equal((await apiAs(`/api/v1/credentials/${failed.id}`)).state, 'failed');
        await page.goto(`${BASE}/publish?learner=jonas%40example.lt#registry`);
        await page.locator(`#registry-table tr[data-id="${again.id}"][data-state="delivered"]`).waitFor();
        assertClean(s);
    } finally {
        await s.close();
    }
});

test('publisher page: for publishers only', { timeout: TEST_TIMEOUT }, async () => {
    assert.ok(STAFF.student && STAFF.student.token, 'MCX_STAFF has no student');
    const s = await open(browser);
    try {
        const { page } = s;
        // signed out
        await page.goto(`${BASE}/publish`);
        await page.getByRole('heading', { level: 1, name: 'Log in as a publisher' }).waitFor();
        const link = page.locator('#gate').getByRole('link', { name: 'Log in as a publisher' });
        assert.equal(new URL(await link.getAttribute('href'), BASE).search, `?next=${encodeURIComponent('/publish')}`);

        // a student: the page says whom it is for, the API refuses the data
        await logIn(page, STAFF.student.email, STAFF.student.password, '/publish');
        await page.getByRole('heading', { level: 1, name: 'This page is for publishers' }).waitFor();
        assert.equal(await page.locator('#app').isVisible(), false);
        const nav = page.getByRole('navigation', { name: 'Main' });
        await nav.getByRole('link', { name: 'My applications' }).waitFor();
        assert.equal(await nav.getByRole('link', { name: 'Publishing' }).count(), 0, 'a student is offered the page');
        const forbidden = await call(`/api/v1/institutions/${INST}/offers`, { token: STAFF.student.token });
        assert.equal(forbidden.status, 403, forbidden.text);
        const viaCookie = await s.context.request.get(`${BASE}/api/v1/institutions/${INST}/offers`);
        assert.equal(viaCookie.status(), 403);
        await assertAccessible(page, 'student');
        await screenshot(page, 'publish-student.png');
        assertClean(s);
    } finally {
        await s.close();
    }
});

test('publisher page: a 403 from the API closes the page', { timeout: TEST_TIMEOUT }, async () => {
    const s = await open(browser);
    try {
        const { page } = s;
        await logIn(page, PUB.email, PUB.password, '/publish');
        await page.locator('#offers-table:not([aria-busy])').waitFor();
        // the server now refuses (the role was taken away, say): the page follows it
        await page.route('**/api/v1/institutions/*/offers', (route) => route.fulfill({
            status: 403, contentType: 'application/json',
            body: JSON.stringify({ error: { code: 'forbidden', message: 'not a publisher of vdu.lt' } }),
        }));
        await page.reload();
        await page.getByRole('heading', { level: 1, name: 'This page is for publishers' }).waitFor();
        assert.equal(await page.locator('#app').isVisible(), false);
        assertClean(s);
    } finally {
        await s.close();
    }
});

test('publisher page: an admin chooses the institution', { timeout: TEST_TIMEOUT }, async () => {
    const ADMIN = STAFF.admin;
    assert.ok(ADMIN && ADMIN.email, 'MCX_STAFF has no admin');
    const s = await open(browser);
    try {
        const { page } = s;
        await logIn(page, ADMIN.email, ADMIN.password, `/publish?institution=${INST}`);
        await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Publishing', exact: true }).waitFor();
        await page.locator('#app').waitFor();
        assert.equal(await page.getByLabel('Institution', { exact: true }).inputValue(), INST);
        const listed = await apiAs(`/api/v1/institutions/${INST}/offers`, { token: ADMIN.token });
        await eventually(async () => assert.equal(
            await page.locator('#offers-table:not([aria-busy]) tbody tr').count(), listed.items.length));
        await page.getByLabel('Institution', { exact: true }).selectOption('uab.cat');
        await page.waitForURL((u) => u.searchParams.get('institution') === 'uab.cat');
        const other = await apiAs('/api/v1/institutions/uab.cat/offers', { token: ADMIN.token });
        await eventually(async () => assert.equal(
            await page.locator('#offers-table:not([aria-busy]) tbody tr').count(), other.items.length));
        assertClean(s);
    } finally {
        await s.close();
    }
});
