// Budget of the catalogue page (acceptance 2): loading / with its default search (the
// 40 demo offers) makes at most 10 requests and transfers under 300 KB, and nothing
// moves once shown (cumulative layout shift under 0.1).
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import {
    BASE, TEST_TIMEOUT, TIMEOUT, apiSearch, assertClean, describeUrl, launch, open,
    waitForResults,
} from './lib.mjs';

const MAX_REQUESTS = 10;
const MAX_BYTES = 300 * 1000;
const MAX_CLS = 0.1;
let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

// Sum of layout-shift entries without recent input, from the start of the page
// (buffered), with the shifted nodes for the report.
function layoutShift(page) {
    return page.evaluate(() => new Promise((resolve) => {
        let total = 0;
        const shifts = [];
        const describe = (n) => !n ? '?' : n.nodeType !== 1 ? n.nodeName
            : n.tagName.toLowerCase() + (n.id ? `#${n.id}` : '') +
              (n.className && typeof n.className === 'string'
                  ? `.${n.className.trim().split(/\s+/).join('.')}` : '');
        new PerformanceObserver((list) => {
            for (const e of list.getEntries()) {
                if (e.hadRecentInput) continue;
                total += e.value;
                shifts.push({ value: e.value, at: Math.round(e.startTime),
                    nodes: (e.sources || []).map((src) => describe(src.node)) });
            }
        }).observe({ type: 'layout-shift', buffered: true });
        setTimeout(() => resolve({ total, shifts }), 1000);
    }));
}

for (const viewport of [{ width: 1280, height: 800 }, { width: 360, height: 740 }]) {
    test(`catalogue load budget at ${viewport.width} px`, { timeout: TEST_TIMEOUT }, async () => {
        const all = await apiSearch();
        const s = await open(browser, { viewport });
        try {
            const { page } = s;
            const requests = [];
            const sizes = [];
            page.on('request', (r) => requests.push(r));
            page.on('requestfinished', (r) => sizes.push(r.sizes().then((z) => ({
                url: r.url(), bytes: z.responseHeadersSize + z.responseBodySize }))));
            await page.goto(`${BASE}/`);
            await waitForResults(page, all.total);
            await page.waitForLoadState('networkidle', { timeout: TIMEOUT });
            const cls = await layoutShift(page);
            const done = await Promise.all(sizes);
            const bytes = done.reduce((sum, d) => sum + d.bytes, 0);
            const list = done.map((d) => `  ${describeUrl(d.url)}: ${d.bytes} B`).join('\n');
            if (viewport.width === 1280) {
                assert.ok(requests.length <= MAX_REQUESTS,
                    `${requests.length} requests (at most ${MAX_REQUESTS}):\n` +
                    requests.map((r) => `  ${r.method()} ${describeUrl(r.url())}`).join('\n'));
                assert.ok(bytes < MAX_BYTES,
                    `${bytes} bytes transferred (under ${MAX_BYTES}):\n${list}`);
                console.log(`catalogue: ${requests.length} requests, ${bytes} bytes, ` +
                    `CLS ${cls.total.toFixed(4)}\n${list}`);
            }
            assert.ok(cls.total < MAX_CLS, `cumulative layout shift ${cls.total.toFixed(3)} ` +
                `(under ${MAX_CLS}) at ${viewport.width} px:\n` +
                JSON.stringify(cls.shifts, null, 1));
            assertClean(s);
        } finally {
            await s.close();
        }
    });
}
