// One header on every page, showing what the signed-in role may use (issue 11): for
// each role, the links the header offers on `/`, and every one of them followed to a
// page that opens for that role — so every page is reachable from `/`. A student who
// opens a staff page by its address is told whom it is for, and the API behind it
// answers 403.
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, test } from 'node:test';

import {
    BASE, SHOTS, TEST_TIMEOUT, TIMEOUT, assertClean, eventually, launch, open, signedInStudent,
} from './lib.mjs';

const STAFF = JSON.parse(process.env.MCX_STAFF || '{}');
let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

const COMMON = ['/', '/impact'];
const EXPECTED = {
    anonymous: [...COMMON, '/login', '/signup'],
    student: [...COMMON, '/me'],
    publisher: [...COMMON, '/publish', '/me'],
    registrar: [...COMMON, '/queue', '/me'],
    admin: [...COMMON, '/publish', '/admin', '/me'],
};

async function signIn(context, who) {
    const r = await context.request.post(`${BASE}/api/v1/session`, {
        data: { email: who.email, password: who.password }, timeout: TIMEOUT });
    assert.equal(r.status(), 200, `sign-in of ${who.email}: ${await r.text()}`);
}

// The header's links on `/`, once the session has drawn them (paths, in order).
async function headerLinks(page, role) {
    await page.goto(`${BASE}/`);
    const nav = page.getByRole('navigation', { name: 'Main' });
    const last = role === 'anonymous' ? 'Sign up' : 'Log out';
    await nav.getByRole(role === 'anonymous' ? 'link' : 'button', { name: last, exact: true }).waitFor();
    await page.waitForLoadState('networkidle'); // the session's answer has drawn the header
    return nav.locator('a').evaluateAll((as) => as.map((a) => new URL(a.href).pathname));
}

for (const role of Object.keys(EXPECTED)) {
    test(`navigation: the header of ${role} leads to every page it may use`, { timeout: TEST_TIMEOUT }, async () => {
        const s = await open(browser);
        try {
            if (role === 'student') await signedInStudent(s.context, 'nav');
            else if (role !== 'anonymous') await signIn(s.context, STAFF[role]);
            const { page } = s;
            const links = await headerLinks(page, role);
            assert.deepEqual(links, EXPECTED[role]);
            for (const href of links) {
                await page.goto(`${BASE}/`);
                const nav = page.getByRole('navigation', { name: 'Main' });
                await nav.locator(`a[href^="${href}"]`).first().click();
                await page.waitForURL((u) => u.pathname === href);
                await page.locator('main h1:visible').first().waitFor();
                // a staff page opens for its role: no "log in" or "not for you" box
                if (['/publish', '/queue', '/admin'].includes(href)) {
                    await page.locator('#app:visible, #gate:visible').first().waitFor();
                    assert.equal(await page.locator('#gate').isVisible(), false, `${href} turned ${role} away`);
                }
                // the header on every page offers the same links (once the session
                // has answered: until then it shows what the last page knew)
                await eventually(async () => assert.deepEqual(
                    await page.getByRole('navigation', { name: 'Main' }).locator('a')
                        .evaluateAll((as) => as.map((a) => new URL(a.href).pathname)),
                    EXPECTED[role], `header on ${href}`));
            }
            // at 360 px the header still fits: nothing scrolls sideways
            await page.setViewportSize({ width: 360, height: 740 });
            await page.goto(`${BASE}/`);
            await page.getByRole('navigation', { name: 'Main' }).locator(`a[href^="${EXPECTED[role].at(-1)}"]`).waitFor();
            assert.ok(await page.evaluate(() => document.documentElement.scrollWidth <= 360),
                'the page scrolls sideways at 360 px');
            await page.screenshot({ path: path.join(SHOTS, `nav-${role}-360.png`), timeout: TIMEOUT });
            assertClean(s);
        } finally {
            await s.close();
        }
    });
}

test('navigation: a student on a staff page is told whom it is for; the API says 403', { timeout: TEST_TIMEOUT }, async () => {
    const s = await open(browser);
    try {
        const me = await signedInStudent(s.context, 'nav-staff');
        const { page } = s;
        for (const [path, whom] of [['/publish', 'publishers'], ['/queue', 'registrars'], ['/admin', 'admins']]) {
            await page.goto(`${BASE}${path}`);
            await page.locator('#gate').waitFor({ state: 'visible' });
            assert.equal((await page.locator('#gate-heading').textContent()).trim(), `This page is for ${whom}`);
            assert.equal(await page.locator('#app').isVisible(), false);
        }
        const csrf = { 'X-CSRF-Token': me.csrf };
        const calls = [
            ['GET', '/api/v1/institutions/vdu.lt/offers'],
            ['GET', '/api/v1/credentials'],
            ['GET', '/api/v1/users'],
            ['GET', '/api/v1/partners'],
            ['POST', '/api/v1/recognition-requests/00000000-0000-4000-8000-000000000000/decision'],
            ['POST', '/api/v1/agreements'],
        ];
        for (const [method, path] of calls) {
            const r = await s.context.request.fetch(`${BASE}${path}`, {
                method, headers: csrf, timeout: TIMEOUT,
                data: method === 'POST' ? { outcome: 'recognised' } : undefined });
            assert.equal(r.status(), 403, `${method} ${path}: ${r.status()} ${await r.text()}`);
            assert.equal((await r.json()).error.code, 'forbidden', `${method} ${path}`);
        }
        assertClean(s);
    } finally {
        await s.close();
    }
});
