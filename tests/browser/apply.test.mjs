// Accounts and applying: sign up at /signup, log out, log in at /login (reached from
// the Apply button of an offer while signed out), apply: the page records the
// application and sends the student to the provider's page (the API's `redirect`);
// /me lists it; applying again keeps one application (acceptance 4).
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import {
    BASE, TEST_TIMEOUT, apiSearch, assertClean, eventually, launch, open, screenshot,
} from './lib.mjs';

const PASSWORD = 'correct horse battery staple';
let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

function nav(page) {
    return page.getByRole('navigation', { name: 'Main', exact: true });
}

function logOut(page) {
    return nav(page).getByRole('button', { name: 'Log out', exact: true });
}

function myApplications(page) {
    return page.getByRole('heading', { level: 1, name: 'My applications', exact: true });
}

async function signedIn(page) {
    const n = nav(page);
    await eventually(async () => {
        assert.equal(await n.getByRole('button', { name: 'Log out', exact: true }).count(), 1,
            'no "Log out" button in the main navigation');
        assert.equal(await n.getByRole('link', { name: 'My applications', exact: true }).count(), 1,
            'no "My applications" link in the main navigation');
        assert.equal(await n.getByRole('link', { name: 'Log in', exact: true }).count(), 0);
    });
}

async function signedOut(page) {
    const n = nav(page);
    await eventually(async () => {
        assert.equal(await n.getByRole('link', { name: 'Log in', exact: true }).count(), 1,
            'no "Log in" link in the main navigation');
        assert.equal(await n.getByRole('link', { name: 'Sign up', exact: true }).count(), 1,
            'no "Sign up" link in the main navigation');
        assert.equal(await n.getByRole('button', { name: 'Log out', exact: true }).count(), 0);
    });
}

// Reports on the console every text a role="status" element shows, so a test sees
// what the page announced even when the page leaves right after.
async function watchStatus(page) {
    const announced = [];
    const listener = (m) => {
        const text = m.text();
        if (text.startsWith('mcx-status:')) announced.push(text.slice('mcx-status:'.length));
    };
    page.on('console', listener);
    await page.evaluate(() => {
        const report = () => {
            for (const el of document.querySelectorAll('[role="status"]')) {
                const text = el.textContent.trim().replace(/\s+/g, ' ');
                if (text) console.log(`mcx-status:${text}`);
            }
        };
        new MutationObserver(report).observe(document.body,
            { subtree: true, childList: true, characterData: true });
    });
    return { announced, stop: () => page.off('console', listener) };
}

// Clicks Apply on the offer page; returns the API's answer once the page has gone to
// its redirect.
async function apply(s, id, expectStatus) {
    const { page } = s;
    const answer = page.waitForResponse((r) => r.request().method() === 'POST' &&
        new URL(r.url()).pathname === `/api/v1/offers/${id}/applications`);
    const before = s.external.length;
    const status = await watchStatus(page);
    await page.getByRole('button', { name: 'Apply', exact: true }).click();
    const res = await answer;
    assert.equal(res.status(), expectStatus, `POST applications: ${res.status()}`);
    const body = await res.json();
    assert.equal(body.offer_id, id);
    assert.ok(body.redirect, 'the demo offers all have a homepage to send the student to');
    const target = new URL(body.redirect).href;
    await page.waitForURL((u) => u.href === target);
    status.stop();
    assert.ok(status.announced.some((t) => t.startsWith('Application recorded')),
        `no role="status" said "Application recorded" (it said ` +
        `${JSON.stringify(status.announced)})`);
    assert.deepEqual(s.external.slice(before), [target],
        'the page should go to the provider\'s page, and nowhere else');
    return body;
}

async function applicationRows(page, id) {
    const link = page.locator(`a[href$="/offers/${id}"]`);
    return page.locator('main li').filter({ has: link }).count();
}

test('sign up, log out, log in, apply, my applications', { timeout: TEST_TIMEOUT }, async () => {
    const email = `student-${Date.now()}-${Math.floor(Math.random() * 1e6)}@example.org`;
    const all = await apiSearch();
    const offer = all.items[1];
    const offerPath = `/offers/${offer.id}`;

    const s = await open(browser);
    try {
        const { page } = s;
        // Sign up.
        await page.goto(`${BASE}/signup`);
        await signedOut(page);
        await page.getByLabel('Email', { exact: true }).fill(email);
        await page.getByLabel('Password', { exact: true }).fill(PASSWORD);
        const name = page.getByLabel('Name', { exact: true });
        if (await name.count()) await name.fill('Test Student');
        await screenshot(page, 'signup.png');
        await page.getByRole('button', { name: 'Create account', exact: true }).click();

        // Signed in at once, or sent to /login: either way, end up signed out.
        await eventually(async () => {
            const out = await logOut(page).count();
            assert.ok(out === 1 || new URL(page.url()).pathname === '/login',
                `after "Create account" neither signed in nor on /login (${page.url()})`);
        });
        if (await logOut(page).count()) await logOut(page).click();
        await signedOut(page);

        // Apply while signed out: the page asks to log in first, and comes back.
        await page.goto(`${BASE}${offerPath}`);
        await page.locator('main h1').filter({ hasText: /\S/ }).waitFor();
        await page.getByRole('button', { name: 'Apply', exact: true }).click();
        await page.waitForURL((u) => u.pathname === '/login');
        const next = new URL(page.url()).searchParams.get('next');
        assert.ok(next && new URL(next, BASE).pathname === offerPath,
            `/login?next= should name the offer (${page.url()})`);
        await screenshot(page, 'login.png');
        await page.getByLabel('Email', { exact: true }).fill(email);
        await page.getByLabel('Password', { exact: true }).fill(PASSWORD);
        await page.getByRole('button', { name: 'Log in', exact: true }).click();
        await page.waitForURL((u) => u.pathname === offerPath);
        await signedIn(page);

        // Apply: recorded, then off to the provider.
        const first = await apply(s, offer.id, 201);

        // My applications.
        await page.goto(`${BASE}/me`);
        await myApplications(page).waitFor();
        await eventually(async () => assert.equal(await applicationRows(page, offer.id), 1,
            `/me should list ${offerPath} once`));
        await screenshot(page, 'me.png');

        // Applying again changes nothing.
        await page.goto(`${BASE}${offerPath}`);
        await page.locator('main h1').filter({ hasText: /\S/ }).waitFor();
        const second = await apply(s, offer.id, 200);
        assert.deepEqual(second, first);
        await page.goto(`${BASE}/me`);
        await myApplications(page).waitFor();
        await eventually(async () => assert.equal(await applicationRows(page, offer.id), 1,
            `/me should still list ${offerPath} once`));

        // The API agrees, with the page's cookies.
        const res = await s.context.request.get(`${BASE}/api/v1/me/applications`);
        assert.equal(res.status(), 200);
        const items = (await res.json()).items;
        assert.deepEqual(items.map((a) => a.offer.id), [offer.id]);
        assertClean(s);
    } finally {
        await s.close();
    }
});
