// The admin page (/admin, issue 11). test_browser.py makes an admin (MCX_STAFF). The
// admin logs in through /login, adds a partner through the page's form (its feed on
// an unreachable 127.0.0.1 port, so every harvest records an error; a bad feed URL
// first, whose refusal shows the server's message), sees its harvest state, and
// "Harvest now" visibly records another run. Then a staff user is added (the
// generated password is shown once and logs in, in a fresh browser), a token is
// created for it (it authenticates an API call) and revoked (401 after), and the user
// is disabled (their log-in fails). axe-core finds no serious or critical violation on
// the page with its data; screenshots at 1280 and 360 px. A student and a signed-out
// visitor are told who the page is for, and the API answers the student 403. The
// users' Address column: a self-signed-up student's address is "Not confirmed" and
// the admin's "Confirm address" confirms it (the student's session says so); a
// refusal shows in the section's alert.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import {
    BASE, TEST_TIMEOUT, api, assertAccessible, assertClean, eventually, launch, logIn, open,
    screenshot, signedInStudent,
} from './lib.mjs';

const STAFF = JSON.parse(process.env.MCX_STAFF || '{}');
let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

const bearer = (token) => ({ headers: { Authorization: `Bearer ${token}` } });

// The status of a call from the test with a bearer token (no assertion on it).
async function statusWith(token, path) {
    const res = await fetch(BASE + path, { ...bearer(token), signal: AbortSignal.timeout(20000) });
    return res.status;
}

test('admin page: partners, harvest now, staff users, tokens', { timeout: TEST_TIMEOUT }, async () => {
    const admin = STAFF.admin;
    assert.ok(admin && admin.token && admin.password, 'MCX_STAFF has no admin');
    const n = `${Date.now() % 1e8}${Math.floor(Math.random() * 1000)}`;
    const pid = `down-${n}.example`;
    const email = `staff-${n}@vdu.lt`;

    const s = await open(browser);
    try {
        const { page } = s;
        await logIn(page, admin.email, admin.password, '/admin');
        const nav = page.getByRole('navigation', { name: 'Main' });
        await nav.getByRole('link', { name: 'Admin', exact: true }).waitFor();
        await page.getByRole('heading', { level: 1, name: 'Administration' }).waitFor();

        // ---- partners: the form shows the server's refusal, then adds one ----
        const pform = page.locator('#partner-form');
        await pform.getByLabel('Institution id', { exact: true }).fill(pid);
        await pform.getByLabel('Name', { exact: true }).fill('Down University');
        await pform.getByLabel('Country code', { exact: true }).fill('ee');
        await pform.getByLabel('Feed URL', { exact: true }).fill('ftp://127.0.0.1/loq.xml');
        await pform.getByRole('button', { name: 'Add partner', exact: true }).click();
        const perr = page.locator('#partner-form-error[role="alert"]');
        await eventually(async () => assert.match(await perr.textContent(), /feed_url must be an http\(s\) URL/));
        await pform.getByLabel('Feed URL', { exact: true }).fill('http://127.0.0.1:1/loq.xml');
        await pform.getByRole('button', { name: 'Add partner', exact: true }).click();
        const row = page.locator(`#partners tr[data-id="${pid}"]`);
        await row.waitFor();
        assert.equal(await perr.textContent(), '');

        // its first harvest (the add starts it) fails: the page shows it once reloaded
        const first = await eventually(async () => {
            const p = await api(`/api/v1/partners/${pid}`, bearer(admin.token));
            assert.ok(p.last_run && !p.state.running, 'no harvest recorded yet');
            return p;
        });
        assert.equal(first.last_run.status, 'failed');
        await page.reload();
        await row.waitFor();
        assert.equal(await row.getAttribute('data-run'), String(first.last_run.id));
        assert.equal((await row.locator('.pill').textContent()).trim(), 'Failing');
        assert.equal((await row.locator('td.error-text .block').first().textContent()).trim(), first.state.last_error);
        assert.equal((await row.locator('td').nth(0).textContent()).trim(), 'Down University');
        assert.equal((await row.locator('td.url').textContent()).trim(), 'http://127.0.0.1:1/loq.xml');
        assert.equal((await row.locator('td.num strong').textContent()).trim(), String(first.offers));
        assert.match(await row.locator('.failures').textContent(), new RegExp(`^${first.state.consecutive_failures} failed in a row`));

        // "Harvest now": another run is recorded and the row says so
        await row.getByRole('button', { name: `Harvest now: ${pid}`, exact: true }).click();
        const status = page.locator('#partners-status[role="status"]');
        await eventually(async () => assert.match(await status.textContent(), new RegExp(`Harvest of ${pid.replace(/\./g, '\\.')} failed`)));
        const again = await api(`/api/v1/partners/${pid}`, bearer(admin.token));
        assert.ok(again.last_run.id > first.last_run.id, 'no new run');
        assert.ok(again.state.consecutive_failures > first.state.consecutive_failures);
        await eventually(async () => {
            assert.notEqual(await row.getAttribute('data-run'), String(first.last_run.id));
            assert.match(await row.locator('.failures').textContent(), new RegExp(`^${again.state.consecutive_failures} failed`));
        });
        // the focus stayed on the button
        assert.equal(await page.evaluate(() => document.activeElement?.getAttribute('aria-label')), `Harvest now: ${pid}`);

        // ---- a staff user: the generated password is shown once ----
        const uform = page.locator('#user-form');
        await uform.getByLabel('Email', { exact: true }).fill(email);
        await uform.getByLabel('Name', { exact: true }).fill('Stasė Staff');
        await uform.getByLabel('Role', { exact: true }).selectOption('publisher');
        await uform.getByLabel('Institution', { exact: true }).selectOption('vdu.lt');
        await uform.getByRole('button', { name: 'Add user', exact: true }).click();
        const pwBox = page.locator('#new-password');
        await eventually(async () => assert.equal((await pwBox.locator('.secret-label').textContent()).trim(), `Password for ${email}`));
        const password = (await page.locator('#new-password-value').textContent()).trim();
        assert.match(password, /^[A-Za-z0-9]{24}$/);
        const urow = page.locator(`#users tr[data-email="${email}"]`);
        await urow.waitFor();
        const listed = (await api(`/api/v1/users?q=${encodeURIComponent(email)}`, bearer(admin.token))).items;
        assert.equal(listed.length, 1);
        const user = listed[0];
        assert.equal(user.role, 'publisher');
        assert.equal(user.institution, 'vdu.lt');
        await assertAccessible(page);
        await screenshot(page, 'admin-1280.png');

        // ...and logs in, in a fresh browser
        const other = await open(browser);
        try {
            await logIn(other.page, email, password, '/me');
            const who = await other.context.request.get(`${BASE}/api/v1/session`);
            assert.equal(who.status(), 200);
            assert.equal((await who.json()).user.email, email);
            assertClean(other);
        } finally {
            await other.close();
        }

        // ---- a token for the new user: it works until it is revoked ----
        const tform = page.locator('#token-form');
        await tform.getByLabel('User', { exact: true }).selectOption(user.id);
        await tform.getByLabel('Label', { exact: true }).fill('browser test');
        await tform.getByRole('button', { name: 'Create token', exact: true }).click();
        await eventually(async () => assert.equal((await page.locator('#new-token .secret-label').textContent()).trim(), `Token for ${email}`));
        const token = (await page.locator('#new-token-value').textContent()).trim();
        assert.match(token, /^mcx_[0-9a-f-]{36}_[0-9a-f]{64}$/);
        const tokenId = token.slice(4, 40);
        assert.equal(await statusWith(token, '/api/v1/tokens'), 200);
        const trow = page.locator(`#tokens tr[data-id="${tokenId}"]`);
        await trow.waitFor();
        assert.equal((await trow.locator('th').textContent()).trim(), 'browser test');
        await trow.getByRole('button', { name: `Revoke token browser test of ${email}`, exact: true }).click();
        // a confirmation first: nothing is revoked yet, the focus is on "Yes, revoke"
        assert.equal(await statusWith(token, '/api/v1/tokens'), 200);
        const yes = trow.getByRole('button', { name: 'Yes, revoke', exact: true });
        await eventually(async () => assert.equal(await yes.evaluate((b) => b === document.activeElement), true));
        await yes.click();
        await page.locator(`#tokens tr[data-id="${tokenId}"][data-revoked="true"]`).waitFor();
        await eventually(async () => assert.match(await page.locator('#tokens-status').textContent(), /revoked/));
        assert.equal(await statusWith(token, '/api/v1/tokens'), 401);

        // ---- disable the user: their log-in fails ----
        await urow.getByRole('button', { name: `Disable ${email}`, exact: true }).click();
        await page.locator(`#users tr[data-email="${email}"][data-disabled="true"]`).waitFor();
        await eventually(async () => assert.match(await page.locator('#users-status').textContent(), /is disabled/));
        const refused = await open(browser);
        try {
            await logIn(refused.page, email, password, '/me', { arrive: false });
            await eventually(async () =>
                assert.match(await refused.page.locator('#form-error').textContent(), /wrong e-mail address or password/i));
            assert.equal(new URL(refused.page.url()).pathname, '/login');
        } finally {
            await refused.close();
        }

        // the filters ask the API
        await page.locator('#user-filter').getByLabel('Role', { exact: true }).selectOption('admin');
        await eventually(async () => {
            const roles = await page.locator('#users tbody tr td:nth-child(3)').allTextContents();
            assert.ok(roles.length > 0 && roles.every((r) => r === 'Admin'), roles.join());
        });
        await page.locator('#user-filter').getByLabel('Role', { exact: true }).selectOption('');
        await page.getByLabel('Email or name contains', { exact: true }).fill(email);
        await eventually(async () => assert.equal(await page.locator('#users tbody tr').count(), 1));

        // a phone: the tables scroll inside their region, the page does not
        await page.setViewportSize({ width: 360, height: 800 });
        await page.getByLabel('Email or name contains', { exact: true }).fill('');
        await page.locator('#users tbody tr').nth(1).waitFor();
        const overflow = await page.evaluate(() => document.documentElement.scrollWidth);
        assert.ok(overflow <= 360, `the page is ${overflow} px wide at 360`);
        await screenshot(page, 'admin-360.png');
        assertClean(s);
    } finally {
        await s.close();
    }
});

test('admin page: for admins only', { timeout: TEST_TIMEOUT }, async () => {
    const s = await open(browser);
    try {
        const { page } = s;
        await page.goto(`${BASE}/admin`);
        await page.getByRole('heading', { level: 1, name: 'Log in as an admin' }).waitFor();
        const link = page.locator('#gate').getByRole('link', { name: 'Log in as an admin' });
        assert.equal(new URL(await link.getAttribute('href'), BASE).search, `?next=${encodeURIComponent('/admin')}`);

        // a student: the page asks the API, which answers 403, and says who it is for
        await signedInStudent(s.context, 'admin');
        const answer = page.waitForResponse((r) => new URL(r.url()).pathname === '/api/v1/users');
        await page.goto(`${BASE}/admin`);
        assert.equal((await answer).status(), 403);
        await page.getByRole('heading', { level: 1, name: 'This page is for admins' }).waitFor();
        assert.equal(await page.locator('#app').isVisible(), false);
        const nav = page.getByRole('navigation', { name: 'Main' });
        await nav.getByRole('link', { name: 'My applications' }).waitFor();
        assert.equal(await nav.getByRole('link', { name: 'Admin' }).count(), 0, 'a student is offered the admin page');
        for (const path of ['/api/v1/users', '/api/v1/partners']) {
            const res = await s.context.request.get(`${BASE}${path}`);
            assert.equal(res.status(), 403, path);
        }
        await assertAccessible(page);
        await screenshot(page, 'admin-student.png');
        assertClean(s);
    } finally {
        await s.close();
    }
});

test('admin page: an admin confirms a self-signed-up student\'s address', { timeout: TEST_TIMEOUT }, async () => {
    const admin = STAFF.admin;
    assert.ok(admin && admin.password, 'MCX_STAFF has no admin');
    const student = await open(browser);
    const s = await open(browser);
    try {
        // a sign-up of its own (the API's POST /users, as the sign-up page does), in
        // another browser: not confirmed
        const { email } = await signedInStudent(student.context, 'unconfirmed');
        const studentSession = async () => {
            const res = await student.context.request.get(`${BASE}/api/v1/session`);
            assert.equal(res.status(), 200);
            return (await res.json()).user;
        };
        assert.equal((await studentSession()).email_confirmed, false);

        const { page } = s;
        await logIn(page, admin.email, admin.password, '/admin');
        const users = page.locator('#users');
        await users.getByRole('columnheader', { name: 'Address', exact: true }).waitFor();
        // the admin (made by `mcx user add`) is confirmed and has no button
        await page.getByLabel('Email or name contains', { exact: true }).fill(admin.email);
        const mine = page.locator(`#users tr[data-email="${admin.email}"]`);
        await eventually(async () => assert.equal(await page.locator('#users tbody tr').count(), 1));
        await mine.waitFor();
        assert.equal((await mine.locator('td.address-cell .pill').textContent()).trim(), 'Confirmed');
        assert.equal(await mine.getByRole('button', { name: /^Confirm address/ }).count(), 0);

        await page.getByLabel('Email or name contains', { exact: true }).fill(email);
        await eventually(async () => assert.deepEqual(
            await page.locator('#users tbody tr').evaluateAll((rows) => rows.map((r) => r.dataset.email)), [email]));
        const row = page.locator(`#users tr[data-email="${email}"]`);
        assert.equal(await row.getAttribute('data-confirmed'), 'false');
        const pill = row.locator('td.address-cell .pill');
        assert.equal((await pill.textContent()).trim(), 'Not confirmed');
        // the column's cells line up with its header
        const column = await users.locator('thead th').evaluateAll((ths) =>
            ths.findIndex((th) => th.textContent.trim() === 'Address'));
        assert.equal(await row.locator('th, td').nth(column).evaluate((c) => c.classList.contains('address-cell')), true);
        const confirmButton = row.getByRole('button', { name: `Confirm address ${email}`, exact: true });
        assert.equal((await confirmButton.textContent()).trim(), 'Confirm address');
        // at 1280 px the users' table fits its region: nothing to scroll sideways
        const region = await users.evaluate((tbl) => {
            const box = tbl.closest('.table-scroll');
            return { scroll: box.scrollWidth, client: box.clientWidth };
        });
        assert.ok(region.scroll <= region.client, `the users' table is ${region.scroll} px in ${region.client} px`);
        await assertAccessible(page, '/admin, an address not confirmed');
        await screenshot(page, 'admin-confirm-before.png');

        // a refusal (the server's answer stood in once) shows in the section's alert,
        // and the button stays to try again
        await page.route('**/api/v1/users/*/confirm-email', (route) => route.fulfill({
            status: 403, contentType: 'application/json',
            body: JSON.stringify({ error: { code: 'forbidden', message: 'confirming a user\'s e-mail address is for admins' } }),
        }), { times: 1 });
        await confirmButton.click();
        const alert = page.locator('#users-error[role="alert"]');
        await eventually(async () => assert.equal((await alert.textContent()).trim(),
            'confirming a user\'s e-mail address is for admins'));
        assert.equal(await confirmButton.isEnabled(), true);
        assert.equal((await studentSession()).email_confirmed, false);

        // confirmed: the row says so, the button is gone, the focus is on the state
        const answer = page.waitForResponse((r) => r.request().method() === 'POST' &&
            new URL(r.url()).pathname.endsWith('/confirm-email'));
        await confirmButton.click();
        assert.equal((await answer).status(), 200);
        await page.locator(`#users tr[data-email="${email}"][data-confirmed="true"]`).waitFor();
        assert.equal((await pill.textContent()).trim(), 'Confirmed');
        assert.equal(await row.getByRole('button', { name: /^Confirm address/ }).count(), 0);
        assert.equal(await row.getByRole('button', { name: `Disable ${email}`, exact: true }).count(), 1);
        await eventually(async () => assert.equal((await page.locator('#users-status[role="status"]').textContent()).trim(),
            `The address ${email} is confirmed.`));
        assert.equal(await alert.textContent(), '');
        assert.equal(await page.evaluate(() => document.activeElement?.textContent.trim()), 'Confirmed');
        // the student's own session says so, and so does the admin's list
        assert.equal((await studentSession()).email_confirmed, true);
        const listed = (await api(`/api/v1/users?q=${encodeURIComponent(email)}`, bearer(admin.token))).items;
        assert.deepEqual(listed.map((u) => [u.email, u.email_confirmed]), [[email, true]]);
        await assertAccessible(page, '/admin, the address confirmed');
        await screenshot(page, 'admin-confirm-done.png');

        // in Lithuanian
        await page.locator('#ui-lang').selectOption('lt');
        await users.getByRole('columnheader', { name: 'Adresas', exact: true }).waitFor();
        assert.equal((await pill.textContent()).trim(), 'Patvirtintas');
        await page.locator('#ui-lang').selectOption('en');
        assertClean(s);
        assertClean(student);
    } finally {
        await s.close();
        await student.close();
    }
});
