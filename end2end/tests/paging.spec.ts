import { expect, Page, test } from '@playwright/test';
import { chargingDelivery, postSigned, screenshotPath } from './helpers';

// A fleet larger than a page: 60 vehicles of this spec's own, charging now, each with its
// own state of charge (20 % to 79 %). Each project gets its own make and ids, so what one
// project's live test delivers does not change what the other reads.
const COUNT = 60;
let make = 'VOLVO';
let prefix = '9a61e000';
const id = (n: number) => `${prefix}-0000-4000-8000-${String(n).padStart(12, '0')}`;

test.beforeAll(async ({ request }, testInfo) => {
  if (testInfo.project.name !== 'hydrated') [make, prefix] = ['ZEEKR', '9a61e001'];
  const now = Date.now() - 120_000;
  for (let n = 0; n < COUNT; n++) {
    expect((await postSigned(request, chargingDelivery(id(n), make, 20 + n, now))).status()).toBe(200);
  }
});

async function rowIds(page: Page) {
  return page.locator('tr[data-vehicle-id]').evaluateAll((rows) =>
    rows.map((r) => r.getAttribute('data-vehicle-id') ?? ''),
  );
}

async function socs(page: Page) {
  return page.getByRole('meter', { name: 'State of charge' }).evaluateAll((meters) =>
    meters.map((m) => Number(m.getAttribute('aria-valuenow'))),
  );
}

test('the fleet pages, sorts and searches by links, with or without JavaScript', async ({ page }, testInfo) => {
  await page.goto(`/?q=${make.toLowerCase()}`);
  await expect(page.locator('tr[data-vehicle-id]')).toHaveCount(50);
  await expect(page.getByText(`${COUNT} of`)).toBeVisible();
  // Sorting by the column header keeps the search and starts from the first page.
  await page.getByRole('link', { name: /State of charge/ }).click();
  await expect(page).toHaveURL(/sort=soc/);
  await page.getByRole('link', { name: /State of charge/ }).click();
  await expect(page).toHaveURL(/sort=soc&dir=desc/);
  await expect(page.getByRole('columnheader', { name: /State of charge/ })).toHaveAttribute('aria-sort', 'descending');
  const first = await rowIds(page);
  const firstSocs = await socs(page);
  expect(first).toHaveLength(50);
  expect(firstSocs[0]).toBe(79);
  expect([...firstSocs].sort((a, b) => b - a)).toEqual(firstSocs);

  // Next: the other ten, still in order, none seen before.
  await page.getByRole('link', { name: 'Next ›' }).click();
  await expect(page).toHaveURL(/after=/);
  await expect(page.locator('tr[data-vehicle-id]')).toHaveCount(COUNT - 50);
  const second = await rowIds(page);
  expect(second.filter((v) => first.includes(v))).toEqual([]);
  expect(Math.max(...(await socs(page)))).toBeLessThan(Math.min(...firstSocs));
  await expect(page.getByText('Next ›')).toHaveAttribute('aria-disabled', 'true');
  await page.setViewportSize({ width: 360, height: 740 });
  await page.screenshot({ path: screenshotPath('fleet-page-2-phone', testInfo.project.name), fullPage: true });
  await page.setViewportSize({ width: 1280, height: 800 });

  // Previous: the first page again, as it was.
  await page.getByRole('link', { name: '‹ Previous' }).click();
  await expect(page).toHaveURL(/before=/);
  await expect.poll(() => rowIds(page)).toEqual(first);
});

test('on a phone the totals stay small and chart labels stay legible', async ({ page }, testInfo) => {
  await page.setViewportSize({ width: 360, height: 740 });
  await page.goto('/');
  const totals = await page.locator('.totals').boundingBox();
  expect(totals).not.toBeNull();
  // Well within the first screen, which then shows the chart and the vehicles.
  expect(totals!.height).toBeLessThan(160);
  const ticks = page.locator('.chart .tick');
  expect(await ticks.count()).toBeGreaterThan(3);
  const sizes = await ticks.evaluateAll((labels) =>
    labels
      .filter((l) => getComputedStyle(l).display !== 'none')
      .map((l) => parseFloat(getComputedStyle(l).fontSize) * (l.getBoundingClientRect().height > 0 ? 1 : 0)),
  );
  expect(sizes.length).toBeGreaterThan(3);
  for (const size of sizes) expect(size).toBeGreaterThanOrEqual(11);
  // No two date labels under the chart overlap.
  const boxes = await page.locator('.energy-chart .tick[data-anchor="middle"]').evaluateAll((labels) =>
    labels
      .filter((l) => getComputedStyle(l).display !== 'none')
      .map((l) => {
        const r = l.getBoundingClientRect();
        return [r.left, r.right];
      }),
  );
  for (let i = 1; i < boxes.length; i++) expect(boxes[i][0]).toBeGreaterThanOrEqual(boxes[i - 1][1]);
  await page.screenshot({ path: screenshotPath('fleet-phone-first-screen', testInfo.project.name) });
});

test('a live update refreshes the rows in place and does not reorder the page', async ({ page, request }, testInfo) => {
  test.skip(testInfo.project.name !== 'hydrated', 'live updates need the app');
  await page.goto(`/?q=${make.toLowerCase()}&sort=soc&dir=desc`);
  await expect(page.locator('body[data-hydrated="true"]')).toHaveCount(1);
  await expect(page.locator('.live[data-live="connected"]')).toHaveCount(1);
  const before = await rowIds(page);
  // The top vehicle drops to 5 %: it would sort last, but the page keeps its row where it
  // is and shows the new value; a vehicle on the next page changes and moves nothing here.
  const top = before[0];
  const elsewhere = id(0); // 20 %: on the second page
  expect(before).not.toContain(elsewhere);
  expect((await postSigned(request, chargingDelivery(top, make, 5, Date.now() - 30_000))).status()).toBe(200);
  const row = page.locator(`tr[data-vehicle-id="${top}"]`);
  await expect(row.getByRole('meter', { name: 'State of charge' })).toHaveAttribute('aria-valuenow', '5');
  expect((await postSigned(request, chargingDelivery(elsewhere, make, 99, Date.now() - 20_000))).status()).toBe(200);
  await page.waitForTimeout(1_500);
  expect(await rowIds(page)).toEqual(before);
  // Loading the page again puts both where they now belong.
  await page.reload();
  const after = await rowIds(page);
  expect(after[0]).toBe(elsewhere);
  expect(after).not.toContain(top);
});
