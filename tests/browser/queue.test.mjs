// The registrar's queue (/queue, issue 11). test_browser.py submits a student's
// recognition request to vdu.lt (a credential of an issuer outside the demo network,
// so its proposal needs review, with reason codes) and makes a draft agreement of
// vdu.lt and uab.cat (MCX_QUEUE). The vdu.lt registrar logs in through the page,
// finds the request in the queue, is refused a "not recognised" without reasons (the
// server's message in the alert, the request still proposed), decides it with
// reasons, and approves the draft's hash. axe-core finds no serious or critical
// violation; a student and a signed-out visitor see who the page is for.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import {
    BASE, TEST_TIMEOUT, api, assertAccessible, assertClean, eventually, launch, logIn, open,
    screenshot, signedInStudent,
} from './lib.mjs';

const Q = JSON.parse(process.env.MCX_QUEUE || '{}');
const TOKENS = JSON.parse(process.env.MCX_REGISTRAR_TOKENS || '{}');
const REASONS_MESSAGE = /reasons are required/;
let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

const asRegistrar = { headers: { Authorization: `Bearer ${TOKENS['vdu.lt']}` } };

test('registrar queue: find, refuse without reasons, decide, approve', { timeout: TEST_TIMEOUT }, async () => {
    assert.ok(Q.request && TOKENS['vdu.lt'], 'MCX_QUEUE or the vdu.lt registrar token is missing');
    const before = await api(`/api/v1/recognition-requests/${Q.request}`, asRegistrar);
    assert.equal(before.status, 'proposed');
    assert.equal(before.proposal.outcome, 'needs_review');
    const codes = before.proposal.reasons.map((x) => x.code);
    assert.ok(codes.length > 0, 'the fixture request has no reason codes');

    const s = await open(browser);
    try {
        const { page } = s;
        await logIn(page, Q.registrar, Q.password, '/queue');
        // the header offers the queue to a registrar
        const nav = page.getByRole('navigation', { name: 'Main' });
        await nav.getByRole('link', { name: 'Queue', exact: true }).waitFor();

        // the queue: the request with its title and reason codes
        await page.getByRole('heading', { level: 1, name: 'Recognition requests' }).waitFor();
        const row = page.locator(`#requests tr[data-id="${Q.request}"]`);
        await row.waitFor();
        assert.equal((await row.locator('th a').textContent()).trim(), before.credential.title);
        for (const code of codes) {
            assert.equal(await row.locator('code', { hasText: code }).count(), 1, `reason code ${code}`);
        }
        // the status filter lives in the address
        await page.getByLabel('Status', { exact: true }).selectOption('decided');
        await page.waitForURL((u) => u.searchParams.get('status') === 'decided');
        await eventually(async () => assert.equal(await row.count(), 0));
        await page.getByLabel('Status', { exact: true }).selectOption('proposed');
        await page.waitForURL((u) => u.searchParams.get('status') === 'proposed');
        await row.waitFor();

        // the draft agreement: approve its current hash
        const ag = page.locator(`#agreements tr[data-id="${Q.agreement}"]`);
        const hash = await ag.locator('button.approve').getAttribute('data-hash');
        await ag.getByRole('button', { name: /^Approve hash / }).click();
        await eventually(async () => assert.match(await page.locator('#approve-result').textContent(), /Approved/));
        const approved = await api(`/api/v1/agreements/${Q.agreement}`);
        assert.ok(approved.approvals.some((x) => x.institution === 'vdu.lt' && x.hash === hash && x.current),
            'no current vdu.lt approval');
        assert.equal(approved.status, 'draft', 'uab.cat has not approved: still a draft');
        await assertAccessible(page);

        // one request
        await row.locator('th a').click();
        await page.waitForURL((u) => u.searchParams.get('id') === Q.request);
        await page.getByRole('heading', { level: 1, name: before.credential.title }).waitFor();
        for (const code of codes) {
            await page.locator(`#proposal-reasons li[data-code="${code}"]`).waitFor();
        }
        await page.getByRole('radio', { name: 'Not recognised', exact: true }).check();
        await page.getByRole('button', { name: 'Record decision', exact: true }).click();
        const alert = page.locator('#decide-error[role="alert"]');
        await eventually(async () => assert.match(await alert.textContent(), REASONS_MESSAGE));
        assert.equal((await api(`/api/v1/recognition-requests/${Q.request}`, asRegistrar)).status, 'proposed');

        const reasons = 'The issuer is not a partner of Vytautas Magnus University and the course is outside every agreement.';
        await page.getByLabel('Reasons', { exact: true }).fill(reasons);
        await page.getByRole('button', { name: 'Record decision', exact: true }).click();
        await eventually(async () =>
            assert.equal((await page.locator('#request-status').textContent()).trim(), 'Decided'));
        assert.match(await page.locator('#decision-summary').textContent(), /Not recognised/);
        assert.equal(await page.locator('#decide-section').isVisible(), false);
        const after = await api(`/api/v1/recognition-requests/${Q.request}`, asRegistrar);
        assert.equal(after.status, 'decided');
        assert.equal(after.decision.outcome, 'not_recognised');
        assert.equal(after.decision.reasons, reasons);
        await assertAccessible(page);
        await screenshot(page, 'queue.png');

        // the list says so too
        await page.goto(`${BASE}/queue?status=decided`);
        await page.locator(`#requests tr[data-id="${Q.request}"][data-status="decided"]`).waitFor();
        assert.equal(await page.getByLabel('Status', { exact: true }).inputValue(), 'decided');
        await screenshot(page, 'queue-list.png');
        assertClean(s);
    } finally {
        await s.close();
    }
});

test('registrar queue: for registrars only', { timeout: TEST_TIMEOUT }, async () => {
    const s = await open(browser);
    try {
        const { page } = s;
        await page.goto(`${BASE}/queue`);
        await page.getByRole('heading', { level: 1, name: 'Log in as a registrar' }).waitFor();
        const link = page.locator('#gate').getByRole('link', { name: 'Log in as a registrar' });
        assert.equal(new URL(await link.getAttribute('href'), BASE).search, `?next=${encodeURIComponent('/queue')}`);

        await signedInStudent(s.context, 'queue');
        await page.goto(`${BASE}/queue`);
        await page.getByRole('heading', { level: 1, name: 'This page is for registrars' }).waitFor();
        assert.equal(await page.locator('#app').isVisible(), false);
        const nav = page.getByRole('navigation', { name: 'Main' });
        await nav.getByRole('link', { name: 'My applications' }).waitFor();
        assert.equal(await nav.getByRole('link', { name: 'Queue' }).count(), 0, 'a student is offered the queue');
        await assertAccessible(page);
        await screenshot(page, 'queue-student.png');
        assertClean(s);
    } finally {
        await s.close();
    }
});
