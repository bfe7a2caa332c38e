import { expect, test, type Page } from '@playwright/test';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { deliverFixture } from './helpers';

/**
 * The fleet page on a slow phone, first visit (nothing cached): Chromium's network held
 * to 1.6 Mbit/s down, 750 kbit/s up with 150 ms latency, its CPU slowed 4×. Measured in
 * the page: when the server-rendered content was first painted (first contentful
 * paint) and when the app became interactive (the root effect marks the body
 * `data-hydrated`), three times; the median is judged. Written to output/slow-phone.json
 * and docs/PERFORMANCE.md.
 */
const INTERACTIVE_BUDGET_MS = 3_000;

type Timings = { content_visible_ms: number; html_received_ms: number; interactive_ms: number };

async function firstVisit(page: Page): Promise<Timings> {
  // Records, in the page's own clock, when the app marks the page as interactive.
  await page.addInitScript(() => {
    const w = window as unknown as { __interactiveAt?: number };
    new MutationObserver((_, observer) => {
      if (document.body?.dataset.hydrated === 'true') {
        w.__interactiveAt = performance.now();
        observer.disconnect();
      }
    }).observe(document, { attributes: true, subtree: true, attributeFilter: ['data-hydrated'] });
  });
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Network.enable');
  await cdp.send('Network.setCacheDisabled', { cacheDisabled: true });
  await cdp.send('Network.emulateNetworkConditions', {
    offline: false,
    latency: 150,
    downloadThroughput: (1.6 * 1_000_000) / 8,
    uploadThroughput: (750 * 1_000) / 8,
  });
  await cdp.send('Emulation.setCPUThrottlingRate', { rate: 4 });
  await page.setViewportSize({ width: 360, height: 740 });

  await page.goto('/', { waitUntil: 'commit', timeout: 30_000 });
  await expect(page.locator('body[data-hydrated="true"]')).toHaveCount(1, { timeout: 20_000 });
  const timings = await page.evaluate(() => {
    const paint = performance.getEntriesByName('first-contentful-paint')[0];
    const nav = performance.getEntriesByType('navigation')[0] as PerformanceNavigationTiming;
    return {
      content_visible_ms: Math.round(paint?.startTime ?? NaN),
      html_received_ms: Math.round(nav.responseEnd),
      interactive_ms: Math.round((window as unknown as { __interactiveAt: number }).__interactiveAt),
    };
  });
  await cdp.send('Emulation.setCPUThrottlingRate', { rate: 1 });
  await page.close();
  return timings;
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

test('on a slow phone the fleet page is interactive within 3 s', async ({ context, request }, testInfo) => {
  test.skip(testInfo.project.name !== 'hydrated', 'measures the hydrated app');
  await deliverFixture(request, '02_first_delivery.json');
  // Three first visits; the median is judged (one run on a busy 2-core machine can stall).
  const runs: Timings[] = [];
  for (let i = 0; i < 3; i++) runs.push(await firstVisit(await context.newPage()));
  const result = {
    content_visible_ms: median(runs.map((r) => r.content_visible_ms)),
    interactive_ms: median(runs.map((r) => r.interactive_ms)),
    runs,
  };

  const output = path.resolve(__dirname, '../output/slow-phone.json');
  fs.mkdirSync(path.dirname(output), { recursive: true });
  fs.writeFileSync(output, JSON.stringify(result, null, 2));
  console.log(
    `slow phone, fleet page (median of 3): content visible at ${result.content_visible_ms} ms, ` +
      `interactive at ${result.interactive_ms} ms; runs: ` +
      runs.map((r) => `${r.content_visible_ms}/${r.interactive_ms}`).join(', '),
  );
  for (const run of runs) expect(run.content_visible_ms).toBeLessThan(run.interactive_ms);
  expect(result.interactive_ms).toBeLessThan(INTERACTIVE_BUDGET_MS);
});
