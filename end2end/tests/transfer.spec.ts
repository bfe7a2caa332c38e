import { expect, test, type Page } from '@playwright/test';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { deliverFixture } from './helpers';

/**
 * What the browser code costs on the wire: the bytes Chromium received for every file
 * under /pkg (headers included, as Chromium counts them), from the network log. A file
 * served from the browser's cache costs nothing and may not appear at all.
 */
async function recordPkgTransfers(page: Page) {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Network.enable');
  const paths = new Map<string, string>();
  const files = new Map<string, { bytes: number; encoding: string }>();
  cdp.on('Network.responseReceived', (event) => {
    const pathname = new URL(event.response.url).pathname;
    if (!pathname.startsWith('/pkg/')) return;
    paths.set(event.requestId, pathname);
    const headers = Object.fromEntries(
      Object.entries(event.response.headers).map(([k, v]) => [k.toLowerCase(), String(v)]),
    );
    files.set(pathname, { bytes: 0, encoding: headers['content-encoding'] ?? 'identity' });
  });
  cdp.on('Network.loadingFinished', (event) => {
    const pathname = paths.get(event.requestId);
    const file = pathname && files.get(pathname);
    if (file) file.bytes += event.encodedDataLength;
  });
  return files;
}

const total = (files: Map<string, { bytes: number }>) =>
  [...files.values()].reduce((sum, f) => sum + f.bytes, 0);

const KB = 1024;
/**
 * The fleet page's first visit (the issue's target): the main file (Leptos's runtime and
 * the hydration of islands, the live connection, the zone), the fleet page's island and
 * the code it shares with other pages' islands, and the stylesheet
 * (docs/PERFORMANCE.md, "Browser code").
 */
const FIRST_VISIT_BUDGET = 200 * KB;
/** What any other page's first visit may add (the target). */
const NEXT_PAGE_BUDGET = 200 * KB;

/** Each page's lazy island, by the name its file starts with. */
const ISLANDS: Record<string, string> = {
  fleet: 'fleet_view_loader',
  vehicle: 'vehicle_detail_loader',
  session: 'session_live_loader',
  events: 'event_log_loader',
  readiness: 'readiness_view_loader',
};

const POLESTAR = '3e1f9b7a-5c2d-4e8f-a061-7b2c9d4e5f60';

test('the browser code arrives compressed, a page at a time, once', async ({ page, request }, testInfo) => {
  test.skip(testInfo.project.name !== 'hydrated', 'measures the hydrated app');
  for (const name of ['02_first_delivery.json', '03_charge_start.json', '10_charge_stop.json']) {
    await deliverFixture(request, name);
  }

  const first = await recordPkgTransfers(page);
  await page.goto('/');
  await expect(page.locator('body[data-hydrated="true"]')).toHaveCount(1);
  const names = [...first.keys()];
  const wasm = names.find((p) => /^\/pkg\/chargelog\.[\w-]+\.wasm$/.test(p));
  const js = names.find((p) => /^\/pkg\/chargelog\.[\w-]+\.js$/.test(p));
  expect(wasm, 'the page fetched the main WASM').toBeTruthy();
  expect(js, 'the page fetched the main JS').toBeTruthy();
  expect(names.some((p) => p.includes(ISLANDS.fleet)), 'the page fetched its island').toBe(true);
  const others = Object.values(ISLANDS).filter((island) => island !== ISLANDS.fleet);
  expect(names.some((p) => others.some((island) => p.includes(island))), 'no other page\'s island').toBe(false);
  // Every file (the stylesheet too) by a hashed name (chargelog.<hash>.wasm,
  // chunk_7.<hash>.wasm, ...), compressed with brotli or gzip.
  for (const name of names) {
    expect(name).toMatch(/^\/pkg\/[\w-]+\.[\w-]{22}\.(wasm|js|css)$/);
    expect(['br', 'gzip']).toContain(first.get(name)!.encoding);
  }
  const stylesheet = await page.locator('link[rel="stylesheet"]').getAttribute('href');
  expect(stylesheet).toMatch(/^\/pkg\/chargelog\.[\w-]+\.css$/);
  const css = await request.get(stylesheet!, { headers: { 'accept-encoding': 'br, gzip' } });
  expect(css.headers()['cache-control']).toBe('public, max-age=31536000, immutable');
  const firstVisit = total(first);
  const firstFiles = Object.fromEntries(first);

  // Each other page, reached by a link, fetches its own code once: the files it
  // does not share with the pages already seen.
  const pages: Record<string, number> = {};
  const visit = async (label: string, go: () => Promise<void>, seen: RegExp) => {
    first.clear();
    await go();
    await expect(page).toHaveURL(seen);
    await expect(page.locator('main h1')).toBeVisible();
    await expect(page.locator('body[data-hydrated="true"]')).toHaveCount(1);
    await page.waitForLoadState('networkidle');
    pages[label] = total(first);
    expect([...first.keys()].some((p) => p.includes(ISLANDS[label])), `${label}: its island`).toBe(true);
  };
  await visit('vehicle', () => page.getByRole('link', { name: '2023 POLESTAR Polestar 2' }).click(), /\/vehicles\//);
  await visit('session', () => page.locator('tr[data-session-id] a').first().click(), /\/sessions\//);
  await visit('events', () => page.getByRole('link', { name: 'Deliveries' }).click(), /\/events/);
  await visit('readiness', () => page.getByRole('link', { name: 'Readiness', exact: true }).click(), /\/readiness/);
  // The places, site peaks, report, data health and settings pages are documents with
  // no island:
  // they fetch no code.
  for (const [label, link, seen] of [
    ['places', 'Places', /\/places/],
    ['site peaks', "Every site's monthly peak, side by side", /\/places\/peaks/],
    ['reports', 'Reports', /\/reports/],
    ['health', 'Health', /\/health/],
    ['settings', 'Settings', /\/settings/],
  ] as const) {
    first.clear();
    await page.getByRole('link', { name: link, exact: true }).click();
    await expect(page).toHaveURL(seen);
    await expect(page.locator('main h1')).toBeVisible();
    await page.waitForLoadState('networkidle');
    pages[label] = total(first);
    expect(pages[label], `${label}: no code of its own`).toBe(0);
  }
  // Back to the fleet: nothing more to fetch.
  first.clear();
  await page.getByRole('link', { name: 'Fleet', exact: true }).click();
  await expect(page.locator(`tr[data-vehicle-id="${POLESTAR}"]`)).toBeVisible();
  const back = total(first);

  // A second visit fetches none of it again.
  await page.close();
  const again = await page.context().newPage();
  const second = await recordPkgTransfers(again);
  await again.goto('/');
  await expect(again.locator('body[data-hydrated="true"]')).toHaveCount(1);
  const secondVisit = total(second);

  const report = {
    first_visit_bytes: firstVisit,
    first_visit_files: firstFiles,
    next_pages_bytes: pages,
    back_to_fleet_bytes: back,
    second_visit_bytes: secondVisit,
  };
  const output = path.resolve(__dirname, '../output/transfer.json');
  fs.mkdirSync(path.dirname(output), { recursive: true });
  fs.writeFileSync(output, JSON.stringify(report, null, 2));
  console.log(
    `browser code: fleet page ${firstVisit} bytes on the first visit; then ` +
      Object.entries(pages).map(([p, b]) => `${p} +${b}`).join(', ') +
      `; back to the fleet +${back}; a second visit ${secondVisit}`,
  );
  expect(firstVisit).toBeLessThanOrEqual(FIRST_VISIT_BUDGET);
  for (const [label, bytes] of Object.entries(pages)) {
    expect(bytes, label).toBeLessThanOrEqual(NEXT_PAGE_BUDGET);
  }
  expect(back).toBe(0);
  expect(secondVisit).toBe(0);
});
