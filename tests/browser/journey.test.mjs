// Issue 11's journeys across roles. A student finds courses, applies to one, and from
// /me asks Vytautas Magnus University to recognise the EC sample micro-credential;
// the vdu.lt registrar finds the request in the queue by its programme and decides
// it; the student sees the decision on /me and appeals it. Meanwhile a publisher issues a credential
// that the outbox delivers. The network coordinator's impact page then shows each
// figure moved by exactly what happened (one more student exposed, application,
// credential, mobility), and every figure equals a count this test makes in SQL
// (psql, MCX_DATABASE_URL) for the period the page shows.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import {
    BASE, TEST_TIMEOUT, TIMEOUT, api, assertAccessible, assertClean, eventually, issueDelivered,
    launch, logIn, open, psql, screenshot, signedInStudent,
} from './lib.mjs';

const STAFF = JSON.parse(process.env.MCX_STAFF || '{}');
const ELM3 = process.env.MCX_ELM3 || '';
const FIGURES = ['exposed', 'applied', 'issued', 'mobilities'];
const PROGRAMME = 'Informatics BSc (journey)';
let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

const digits = (text) => Number(String(text).replace(/[^\d]/g, ''));

// The four figures by SQL written here (docs/impact.md's definitions), for the UTC
// days from..to.
function sqlFigures(from, to) {
    const lo = `'${from}'::date::timestamp AT TIME ZONE 'UTC'`;
    const hi = `('${to}'::date + 1)::timestamp AT TIME ZONE 'UTC'`;
    const within = (col) => `${col} >= ${lo} AND ${col} < ${hi}`;
    const sql = 'SELECT concat_ws(\',\',' +
        ` (SELECT count(DISTINCT visitor) FROM events WHERE kind IN ('search', 'impression', 'view')` +
        `   AND visitor IS NOT NULL AND ${within('at')}),` +
        ` (SELECT count(*) FROM events WHERE kind = 'application' AND ${within('at')}),` +
        ` (SELECT count(*) FROM credentials WHERE delivered_at IS NOT NULL AND ${within('delivered_at')}),` +
        ' (SELECT count(*) FROM credit_transfers t JOIN recognition_requests r ON r.id = t.request_id' +
        "   WHERE t.outcome IN ('recognised', 'partially_recognised')" +
        "   AND coalesce(r.issuer_id, t.credential->'issuer'->>'id') IS NOT NULL" +
        "   AND coalesce(r.issuer_id, t.credential->'issuer'->>'id') <> t.institution_id" +
        `   AND ${within('t.decided_at')}))`;
    const n = psql(sql).split(',').map(Number);
    return Object.fromEntries(FIGURES.map((f, i) => [f, n[i]]));
}

// The impact page's period and figures, once it has counted.
async function impactShown(page) {
    await page.goto(`${BASE}/impact`);
    await eventually(async () => {
        assert.equal(await page.locator('.figures').getAttribute('aria-busy'), null, 'still counting');
        assert.match(await page.locator('#exposed').textContent(), /\d/);
    });
    const figures = {};
    for (const f of FIGURES) figures[f] = digits(await page.locator(`#${f}`).textContent());
    return {
        from: await page.locator('#from').inputValue(),
        to: await page.locator('#to').inputValue(),
        figures,
    };
}

test('journey: ask for recognition, the registrar decides, the student sees it, the impact moves',
    { timeout: TEST_TIMEOUT * 2 }, async () => {
        assert.ok(STAFF.registrar && STAFF.publisher && ELM3, 'MCX_STAFF or MCX_ELM3 is missing');
        const coordinator = await open(browser);
        const student = await open(browser);
        const registrar = await open(browser);
        try {
            // the coordinator's figures before
            const start = await impactShown(coordinator.page);

            // a student: the catalogue (an exposure), an application
            const me = await signedInStudent(student.context, 'journey');
            const { page } = student;
            await page.goto(`${BASE}/?q=data`);
            await page.locator('#results > li').first().waitFor();
            // searched in the student's browser (its visitor cookie): a search without
            // one would be one more visitor exposed
            const search = async (inst) => (await (await student.context.request.get(
                `${BASE}/api/v1/offers?institution=${inst}&limit=1`, { timeout: TIMEOUT })).json()).items[0];
            const offer = await search('uab.cat');
            const applied = await student.context.request.post(
                `${BASE}/api/v1/offers/${offer.id}/applications`,
                { headers: { 'X-CSRF-Token': me.csrf }, timeout: TIMEOUT });
            assert.equal(applied.status(), 201, await applied.text());

            // asks for recognition from /me, with the credential file
            await page.goto(`${BASE}/me`);
            await page.getByRole('heading', { level: 2, name: 'Recognition of my credentials' }).waitFor();
            await page.getByLabel('Credential file (Europass JSON-LD or XML)').setInputFiles(ELM3);
            await page.getByLabel('Home university', { exact: true }).selectOption('vdu.lt');
            await page.getByLabel('Study programme (optional)').fill(PROGRAMME);
            await page.getByRole('button', { name: 'Send request', exact: true }).click();
            const card = page.locator('#requests > li').first();
            await eventually(async () => assert.match(await card.textContent(), /Automatic proposal: Needs review/));
            const requestId = await card.getAttribute('data-id');
            assert.equal(await card.getAttribute('data-status'), 'proposed');
            assert.match(await page.locator('#rec-done').textContent(), /Request sent/);
            await assertAccessible(page);

            // the registrar: the queue narrowed to the programme, the request, a decision
            const r = registrar.page;
            await logIn(r, STAFF.registrar.email, STAFF.registrar.password, '/queue');
            await r.locator(`#requests tr[data-id="${requestId}"]`).waitFor();
            await r.getByLabel('Programme', { exact: true }).selectOption(PROGRAMME);
            await r.waitForURL((u) => u.searchParams.get('programme') === PROGRAMME);
            await eventually(async () =>
                assert.deepEqual(await r.locator('#requests tbody tr').evaluateAll(
                    (rows) => rows.map((x) => x.dataset.id)), [requestId]));
            await assertAccessible(r);
            await screenshot(r, 'journey-queue-filtered.png');
            await r.locator(`#requests tr[data-id="${requestId}"] th a`).click();
            await r.waitForURL((u) => u.searchParams.get('id') === requestId);
            await r.getByRole('radio', { name: 'Partially recognised', exact: true }).check();
            await r.getByLabel('Credits', { exact: true }).fill('2');
            await r.getByLabel('Grade', { exact: true }).fill('9');
            await r.getByLabel('Reasons', { exact: true })
                .fill('Two of the three learning outcomes match INF-2031; recognised as 2 elective ECTS.');
            await r.getByRole('button', { name: 'Record decision', exact: true }).click();
            await eventually(async () =>
                assert.equal((await r.locator('#request-status').textContent()).trim(), 'Decided'));

            // the student sees the decision
            await page.reload();
            const decided = page.locator(`#requests > li[data-id="${requestId}"]`);
            await eventually(async () => {
                assert.equal(await decided.getAttribute('data-status'), 'decided');
                assert.match(await decided.locator('.verdict').textContent(),
                    /Decision: Partially recognised · 2 ECTS · grade 9/);
            });
            assert.match(await decided.textContent(), /Two of the three learning outcomes/);
            await screenshot(page, 'journey-me-decided.png');

            // and may appeal it once, from the same card
            await decided.getByText('Appeal this decision', { exact: true }).click();
            await decided.getByRole('button', { name: 'Send appeal', exact: true }).click();
            await eventually(async () => assert.match(
                await decided.locator('[role="alert"]').textContent(), /Write why/));
            await decided.getByLabel('Why the decision should change')
                .fill('The third outcome is covered by my project report, attached to the credential.');
            await decided.getByRole('button', { name: 'Send appeal', exact: true }).click();
            await eventually(async () => {
                assert.equal(await decided.getAttribute('data-status'), 'appealed');
                assert.match(await decided.locator('.appeal-sent').textContent(), /You appealed on/);
            });
            const appealed = await api(`/api/v1/recognition-requests/${requestId}`,
                { headers: { Authorization: `Bearer ${STAFF.registrar.token}` } });
            assert.equal(appealed.status, 'appealed');
            assert.match(appealed.appeal.text, /project report/);
            await assertAccessible(page);

            // a publisher issues a credential; the outbox delivers it
            const vdu = await search('vdu.lt');
            await issueDelivered(STAFF.publisher.token, {
                offerId: vdu.id, key: `journey-${requestId}`, result: { grade: '10', date: start.to },
                learner: { given_name: 'Rūta', family_name: 'Kazlauskienė', email: me.email },
            });

            // the coordinator's page: each figure moved by what happened, and equals SQL
            await eventually(async () => {
                const now = await impactShown(coordinator.page);
                assert.deepEqual({ from: now.from, to: now.to }, { from: start.from, to: start.to });
                const want = Object.fromEntries(FIGURES.map((f) => [f, start.figures[f] + 1]));
                assert.deepEqual(now.figures, want, 'one more of each');
                assert.deepEqual(now.figures, sqlFigures(now.from, now.to), 'the page equals SQL');
            }, { timeout: 30000, interval: 1000 });
            await screenshot(coordinator.page, 'journey-impact.png');
            for (const s of [coordinator, student, registrar]) assertClean(s);
        } finally {
            await Promise.all([coordinator.close(), student.close(), registrar.close()]);
        }
    });
