// E-mail address confirmation. A self-signed-up student's address is not proven, so
// /me shows no credential issued to it, only the panel that sends the confirmation
// mail; the link in that mail (read from the SMTP stand-in's spool, MCX_SMTP_SPOOL)
// opens /confirm, which confirms the address, and /me then lists the credential.
// The confirmation page's other answers (an expired link, one that is not valid, no
// link at all) and the panel's answers this node cannot give (it has a mail server)
// are checked too. Time is moved with SQL (psql, MCX_DATABASE_URL), not waited for:
// the one-mail-a-minute limit and the 48 hours a link lives. A sign-up through the
// /signup page tells /me what became of its mail (sessionStorage): /me says it once.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFile, readdir } from 'node:fs/promises';
import path from 'node:path';
import { after, before, test } from 'node:test';

import {
    BASE, TEST_TIMEOUT, api, assertAccessible, assertClean, eventually, issueDelivered, launch,
    open, psql, screenshot, signedInStudent,
} from './lib.mjs';

const STAFF = JSON.parse(process.env.MCX_STAFF || '{}');
const SPOOL = process.env.MCX_SMTP_SPOOL || '';
const LINK_BASE = 'http://mcx.test/confirm#token=';
const SUBJECT = 'Confirm your e-mail address for mcx';
const WAIT_TEXT = 'An e-mail was sent less than a minute ago. Wait a moment before asking again.';
let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });



// Moves the links sent to an account back in time (the addresses the tests make are
// [a-z0-9@.-] only).
function ageLinks(email, interval, { expiry = false } = {}) {
    assert.match(email, /^[a-z0-9.@-]+$/);
    psql(`UPDATE email_confirmations SET created_at = created_at - interval '${interval}'` +
        (expiry ? `, expires_at = expires_at - interval '${interval}'` : '') +
        ` WHERE user_id = (SELECT id FROM users WHERE lower(email) = '${email}')`);
    psql(`UPDATE users SET confirmation_sent_at = confirmation_sent_at - interval '${interval}'` +
        ` WHERE lower(email) = '${email}'`);
}

// ---- the mails the SMTP stand-in took ----

function decodeWords(value) { // RFC 2047
    return value.replace(/=\?([^?]+)\?([BbQq])\?([^?]*)\?=/g, (m, charset, enc, text) => {
        const bytes = enc.toUpperCase() === 'B' ? Buffer.from(text, 'base64')
            : Buffer.from(text.replace(/_/g, ' ').replace(/=([0-9A-Fa-f]{2})/g,
                (x, h) => String.fromCharCode(parseInt(h, 16))), 'latin1');
        return bytes.toString('utf8');
    });
}

// {headers: {lower-case name: value}, body: the text, transfer encoding undone}
function parseMessage(raw) {
    const text = raw.replace(/\r\n/g, '\n');
    const split = text.indexOf('\n\n');
    const head = split < 0 ? text : text.slice(0, split);
    let body = split < 0 ? '' : text.slice(split + 2);
    const headers = {};
    for (const line of head.replace(/\n[ \t]+/g, ' ').split('\n')) {
        const colon = line.indexOf(':');
        if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = decodeWords(line.slice(colon + 1).trim());
    }
    const cte = (headers['content-transfer-encoding'] || '').toLowerCase();
    if (cte === 'quoted-printable') {
        body = Buffer.from(body.replace(/=\n/g, '').replace(/=([0-9A-Fa-f]{2})/g,
            (x, h) => String.fromCharCode(parseInt(h, 16))), 'latin1').toString('utf8');
    } else if (cte === 'base64') {
        body = Buffer.from(body, 'base64').toString('utf8');
    }
    return { headers, body };
}

// The mails to `email`, oldest first: {from, to, headers, body, link}.
async function mailsTo(email) {
    const names = (await readdir(SPOOL)).filter((n) => /^\d+\.json$/.test(n)).sort();
    const mails = [];
    for (const name of names) {
        const m = JSON.parse(await readFile(path.join(SPOOL, name), 'utf8'));
        if (!m.to.some((a) => a.toLowerCase() === email.toLowerCase())) continue;
        const { headers, body } = parseMessage(m.data);
        const link = /https?:\/\/\S+\/confirm#token=\S+/.exec(body);
        mails.push({ ...m, headers, body, link: link ? link[0] : '' });
    }
    return mails;
}

// Waits until `n` mails went to `email`; the newest.
async function mailNumber(n, email) {
    return eventually(async () => {
        const mails = await mailsTo(email);
        assert.equal(mails.length, n, `mails to ${email}`);
        return mails[n - 1];
    }, { timeout: 30000 });
}

function checkMail(mail, email) {
    assert.deepEqual(mail.to, [email]);
    assert.equal(mail.from, 'no-reply@mcx.test');
    assert.equal(mail.headers.subject, SUBJECT);
    assert.match(mail.headers.from, /<no-reply@mcx\.test>/);
    assert.equal(mail.headers.to, email);
    assert.match(mail.headers['content-type'] || '', /^text\/plain;\s*charset="?utf-8"?$/i);
    assert.ok(mail.link.startsWith(LINK_BASE), `the link: ${mail.link}\n${mail.body}`);
    assert.ok(mail.link.length > LINK_BASE.length + 20, `a token in ${mail.link}`);
    return mail.link.slice(LINK_BASE.length);
}

// ---- the pages ----

async function confirmPanel(page) {
    const panel = page.locator('#email-confirm');
    await panel.waitFor();
    return panel;
}

async function noticeOf(page) {
    return {
        done: (await page.locator('#email-confirm-done').textContent()).trim(),
        error: (await page.locator('#email-confirm-error').textContent()).trim(),
    };
}

// Opens /confirm#token=… and waits for its outcome: {done, error, url}.
async function openLink(page, token, query = '') {
    await page.goto('about:blank'); // from /confirm itself, only the fragment would change
    await page.goto(`${BASE}/confirm${query}#token=${token}`);
    await page.locator('#confirm-result:not([aria-busy])').waitFor();
    return {
        done: (await page.locator('#confirm-done').textContent()).trim(),
        error: (await page.locator('#confirm-error').textContent()).trim(),
        url: page.url(),
    };
}

test('a student confirms their address with the mailed link and then sees their credential',
    { timeout: TEST_TIMEOUT }, async () => {
        assert.ok(STAFF.publisher && SPOOL, 'MCX_STAFF or MCX_SMTP_SPOOL is missing');
        const s = await open(browser);
        try {
            const { page, context } = s;
            const signedUp = Date.now();
            const me = await signedInStudent(context, 'confirm');
            // the sign-up sent the first mail
            const first = await mailNumber(1, me.email);
            const firstToken = checkMail(first, me.email);

            // a credential for the address, which the page must not show yet
            const issued = await issueDelivered(STAFF.publisher.token, {
                key: `confirm-${Date.now()}`, result: { grade: '8', date: '2026-11-29' },
                learner: { given_name: 'Rūta', family_name: 'Naujokė', email: me.email },
            });
            const listed = await (await context.request.get(`${BASE}/api/v1/me/credentials`)).json();
            assert.deepEqual(listed, { ...listed, items: [], email_confirmed: false });

            await page.goto(`${BASE}/me`);
            const panel = await confirmPanel(page);
            assert.equal((await panel.locator('#email-confirm-text').textContent()).trim(),
                `Confirm your e-mail address ${me.email} to see the credentials issued to it.`);
            assert.equal(await page.locator('#my-credentials > li').count(), 0);
            assert.equal(await page.locator('#credentials-empty').isHidden(), true);
            await assertAccessible(page, '/me with an unconfirmed address');
            await screenshot(page, 'me-confirm.png');

            // asking again at once: the sign-up's mail went out less than a minute ago
            const send = page.getByRole('button', { name: 'Send the confirmation e-mail', exact: true });
            await send.click();
            await eventually(async () => assert.notEqual((await noticeOf(page)).error, ''));
            if (Date.now() - signedUp < 60000) {
                assert.deepEqual(await noticeOf(page), { done: '', error: WAIT_TEXT });
            }
            await screenshot(page, 'me-confirm-wait.png');
            // as if that mail were two minutes old: a new one goes out
            ageLinks(me.email, '2 minutes');
            await send.click();
            await eventually(async () => assert.deepEqual(await noticeOf(page),
                { done: `Sent to ${me.email}. Open the link in it.`, error: '' }));
            await assertAccessible(page, '/me after sending the mail');
            await screenshot(page, 'me-confirm-sent.png');
            const second = await mailNumber(2, me.email);
            const token = checkMail(second, me.email);
            assert.notEqual(token, firstToken, 'a new link');

            // the link: confirmed, and the token leaves the address bar
            const res = await openLink(page, token);
            assert.deepEqual([res.done, res.error], [`Your address ${me.email} is confirmed.`, '']);
            assert.equal(res.url, `${BASE}/confirm`);
            assert.equal(await page.evaluate(() => location.hash), '');
            await assertAccessible(page, '/confirm, confirmed');
            await screenshot(page, 'confirm-done.png');

            // My applications lists the credential now
            await page.getByRole('link', { name: 'Go to My applications', exact: true }).click();
            await page.waitForURL((u) => u.pathname === '/me');
            const card = page.locator(`#my-credentials li[data-id="${issued.id}"]`);
            await card.waitFor();
            assert.match(await card.textContent(), /Issued on/);
            assert.equal(await page.locator('#email-confirm').isHidden(), true);

            // the same link again says the same
            const again = await openLink(page, token);
            assert.deepEqual([again.done, again.error], [`Your address ${me.email} is confirmed.`, '']);
            // and the page without a link knows this browser's address is confirmed
            await page.goto(`${BASE}/confirm`);
            await page.locator('#confirm-result:not([aria-busy])').waitFor();
            const more = await page.locator('#confirm-more').textContent();
            assert.ok(more.endsWith(`Your address ${me.email} is confirmed already: ` +
                'the credentials issued to it are in My applications.'), more);
            assertClean(s);
        } finally {
            await s.close();
        }
    });

test('the confirmation page: an expired link, one that is not valid, and no link',
    { timeout: TEST_TIMEOUT }, async () => {
        const s = await open(browser);
        try {
            const { page, context } = s;
            const me = await signedInStudent(context, 'expired');
            const token = checkMail(await mailNumber(1, me.email), me.email);
            // older than 48 hours
            ageLinks(me.email, '49 hours', { expiry: true });
            const expired = await openLink(page, token);
            assert.deepEqual([expired.done, expired.error],
                ['', 'This link has expired. Send a new one from My applications.']);
            assert.equal(expired.url, `${BASE}/confirm`);
            const toMe = page.locator('#confirm-error').getByRole('link', { name: 'My applications' });
            assert.equal(await toMe.getAttribute('href'), '/me');
            await assertAccessible(page, '/confirm, expired');
            await screenshot(page, 'confirm-expired.png');
            // still unconfirmed
            const listed = await (await context.request.get(`${BASE}/api/v1/me/credentials`)).json();
            assert.equal(listed.email_confirmed, false);

            // a made-up token, in the shape of a real one and not
            for (const made of [randomBytes(32).toString('hex'), 'not-a-token']) {
                const bad = await openLink(page, made);
                assert.equal(bad.done, '');
                assert.match(bad.error, /^This link is not valid\. /);
                assert.equal(bad.url, `${BASE}/confirm`);
            }
            await assertAccessible(page, '/confirm, not valid');
            await screenshot(page, 'confirm-invalid.png');

            // in Lithuanian; the ?ui= stays in the address, the token does not
            const lt = await openLink(page, randomBytes(32).toString('hex'), '?ui=lt');
            assert.match(lt.error, /^Ši nuoroda negalioja\./);
            assert.equal(lt.url, `${BASE}/confirm?ui=lt`);
            assert.equal(await page.locator('h1').textContent(), 'El. pašto adreso patvirtinimas');

            // no token: what the page is for
            await page.goto(`${BASE}/confirm?ui=en`);
            await page.locator('#confirm-result:not([aria-busy])').waitFor();
            assert.match(await page.locator('#confirm-more').textContent(),
                /^This page confirms your e-mail address when you open it through the link in the e-mail mcx sends you\.To get that e-mail, choose “Send the confirmation e-mail” in My applications\.$/);
            assert.equal((await page.locator('#confirm-error').textContent()), '');
            assert.equal((await page.locator('#confirm-done').textContent()), '');
            assert.equal(await page.locator('#confirm-more').getByRole('link', { name: 'My applications' })
                .getAttribute('href'), '/me');
            await assertAccessible(page, '/confirm without a token');
            await screenshot(page, 'confirm-none.png');
            // a link pasted into the address bar there: only the fragment changes
            await page.evaluate(() => { location.hash = 'token=pasted'; });
            await eventually(async () => assert.match(
                await page.locator('#confirm-error').textContent(), /^This link is not valid\. /));
            assert.equal(page.url(), `${BASE}/confirm?ui=en`);
            assert.equal(await page.locator('#confirm-more').textContent(), '');
            assertClean(s);
        } finally {
            await s.close();
        }
    });

// What this node cannot answer (it has a mail server that takes every mail): the
// page's words for each error, with the server's answers stood in by the browser.
test('the /me panel explains why no mail went out', { timeout: TEST_TIMEOUT }, async () => {
    const s = await open(browser);
    try {
        const { page, context } = s;
        await signedInStudent(context, 'panel');
        const answers = [];
        let confirmed = false;
        await page.route('**/api/v1/me/email-confirmation', (route) => {
            const [status, code, message] = answers.shift();
            if (code === 'already_confirmed') confirmed = true;
            return route.fulfill({
                status, contentType: 'application/json',
                headers: status === 429 ? { 'Retry-After': '60' } : {},
                body: JSON.stringify({ error: { code, message } }),
            });
        });
        await page.route('**/api/v1/me/credentials', async (route) => (confirmed
            ? route.fulfill({ status: 200, contentType: 'application/json',
                body: JSON.stringify({ items: [], email_confirmed: true }) })
            : route.continue()));
        await page.goto(`${BASE}/me`);
        await confirmPanel(page);
        const send = page.getByRole('button', { name: 'Send the confirmation e-mail', exact: true });
        const ask = async (answer, expected) => {
            answers.push(answer);
            await send.click();
            await eventually(async () => assert.deepEqual(await noticeOf(page), expected));
        };
        await ask([503, 'mail_unavailable', 'this node sends no e-mail'],
            { done: '', error: 'This server sends no e-mail. Ask your university to confirm your address.' });
        await ask([502, 'mail_failed', 'the mail server refused the mail: try again later'],
            { done: '', error: 'the mail server refused the mail: try again later' });
        await ask([429, 'too_many_requests', 'wait'], { done: '', error: WAIT_TEXT });
        // the panel in Lithuanian, with what the last answer said
        await page.locator('#ui-lang').selectOption('lt');
        assert.equal(await page.getByRole('button', { name: 'Siųsti patvirtinimo laišką' }).count(), 1);
        assert.match(await page.locator('#email-confirm-text').textContent(), /^Patvirtinkite savo el\. pašto adresą /);
        assert.equal((await noticeOf(page)).error,
            'Laiškas išsiųstas mažiau nei prieš minutę. Šiek tiek palaukite ir bandykite dar kartą.');
        await page.locator('#ui-lang').selectOption('en');
        // confirmed meanwhile (another tab): the list comes instead of the panel
        answers.push([409, 'already_confirmed', 'confirmed already']);
        await send.click();
        await page.locator('#credentials-empty').waitFor();
        assert.equal(await page.locator('#email-confirm').isHidden(), true);
        assert.deepEqual(answers, []);
        assertClean(s);
    } finally {
        await s.close();
    }
});

// The sign-up page, then /me (?next=/me): the panel says once, above its button, that
// the sign-up's mail went out; not after a reload. What it says when the sign-up's
// mail failed or the node sends none (this node's relay takes every mail, so those
// are left in sessionStorage by the test, as account.js would), and the note gives
// way to the answer of "Send the confirmation e-mail".
test('after a sign-up through the page, /me says once that the confirmation mail was sent',
    { timeout: TEST_TIMEOUT }, async () => {
        assert.ok(SPOOL, 'MCX_SMTP_SPOOL is missing');
        const s = await open(browser);
        try {
            const { page } = s;
            const email = `signup-note-${Date.now()}-${Math.floor(Math.random() * 1e6)}@example.org`;
            await page.goto(`${BASE}/signup?next=${encodeURIComponent('/me')}`);
            await page.getByLabel('Name', { exact: true }).fill('Rūta Naujokė');
            await page.getByLabel('Email', { exact: true }).fill(email);
            await page.getByLabel('Password', { exact: true }).fill('correct horse battery staple');
            await page.getByRole('button', { name: 'Create account', exact: true }).click();
            await page.waitForURL((u) => u.pathname === '/me');

            const panel = await confirmPanel(page);
            const note = page.locator('#email-confirm-signup');
            const sentText = `We sent a confirmation e-mail to ${email}. Open the link in it.`;
            await eventually(async () => assert.equal((await note.textContent()).trim(), sentText));
            assert.equal(await note.isVisible(), true);
            // above the button, and the mail did go out
            const send = panel.getByRole('button', { name: 'Send the confirmation e-mail', exact: true });
            assert.equal(await note.evaluate((n, b) => Boolean(n.compareDocumentPosition(b) & Node.DOCUMENT_POSITION_FOLLOWING),
                await send.elementHandle()), true);
            checkMail(await mailNumber(1, email), email);
            assert.equal(await page.evaluate(() => sessionStorage.getItem('mcx.signup.confirmation')), null);
            assert.deepEqual(await noticeOf(page), { done: '', error: '' });
            await assertAccessible(page, '/me right after a sign-up');
            await screenshot(page, 'me-signup-sent.png');
            await page.locator('#ui-lang').selectOption('lt');
            await eventually(async () => assert.equal((await note.textContent()).trim(),
                `Išsiuntėme patvirtinimo laišką adresu ${email}. Atverkite laiške esančią nuorodą.`));
            await page.locator('#ui-lang').selectOption('en');
            await eventually(async () => assert.equal((await note.textContent()).trim(), sentText));

            // once: after a reload the panel is there without the note
            await page.reload();
            await confirmPanel(page);
            await page.locator('#email-confirm-text:not(:empty)').waitFor();
            assert.equal(await note.isHidden(), true);
            assert.equal((await note.textContent()).trim(), '');

            // what the other answers of the sign-up make the panel say
            const shown = async (outcome) => {
                await page.evaluate((v) => sessionStorage.setItem('mcx.signup.confirmation', v), outcome);
                await page.reload();
                await confirmPanel(page);
                await page.locator('#email-confirm-text:not(:empty)').waitFor();
                assert.equal(await page.evaluate(() => sessionStorage.getItem('mcx.signup.confirmation')), null);
                return (await note.isVisible()) ? (await note.textContent()).trim() : '';
            };
            assert.equal(await shown('unavailable'),
                'This server sends no e-mail. Ask your university to confirm your address.');
            assert.equal(await shown('failed'), 'The confirmation e-mail could not be sent. Send it again below.');
            await screenshot(page, 'me-signup-failed.png');
            // asking for a mail: its answer below the button replaces the note
            await send.click();
            await eventually(async () => {
                const n = await noticeOf(page);
                assert.ok(n.done || n.error, 'no answer to "Send the confirmation e-mail"');
            });
            assert.equal(await note.isHidden(), true);
            assert.equal(await shown('nonsense'), '');
            assertClean(s);
        } finally {
            await s.close();
        }
    });
