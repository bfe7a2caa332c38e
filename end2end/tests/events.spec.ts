import { expect, test } from '@playwright/test';
import { chargingDelivery, deliverFixture, postSigned, screenshotPath } from './helpers';

const TESLA = '9b8a7c6d-1e2f-4a3b-8c5d-0e1f2a3b4c5d';

test.beforeAll(async ({ request }) => {
  // A stored delivery, then its retry (a duplicate), then a forged one.
  await deliverFixture(request, '12_doc_variant_first_delivery_already_charging.json');
  await deliverFixture(request, '12_doc_variant_first_delivery_already_charging.json');
  const forged = await request.post('/webhooks/smartcar', {
    data: '{"eventType":"VEHICLE_STATE"}',
    headers: { 'content-type': 'application/json', 'sc-signature': 'deadbeef' },
  });
  expect(forged.status()).toBe(401);
});

test('the deliveries page lists outcomes and filters them', async ({ page }, testInfo) => {
  await page.goto('/');
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Deliveries' }).click();
  await expect(page).toHaveURL(/\/events$/);
  await expect(page.getByRole('heading', { name: 'Deliveries', level: 1 })).toBeVisible();
  await expect(page.locator('tr[data-outcome="duplicate"]').first()).toBeVisible();
  await expect(page.locator('tr[data-outcome="rejected_signature"]').first()).toContainText('invalid signature');
  for (const [name, width] of [['events-desktop', 1280], ['events-phone', 360]] as const) {
    await page.setViewportSize({ width, height: 800 });
    await page.screenshot({ path: screenshotPath(name, testInfo.project.name), fullPage: true });
  }
  await page.setViewportSize({ width: 1280, height: 800 });

  await page.getByLabel('Outcome').selectOption('rejected_signature');
  await page.getByRole('button', { name: 'Apply' }).click();
  await expect(page).toHaveURL(/outcome=rejected_signature/);
  const rows = page.locator('tbody tr');
  await expect(rows.first()).toBeVisible();
  expect(await rows.count()).toBe(await page.locator('tr[data-outcome="rejected_signature"]').count());

  await page.goto('/events');
  await page.getByLabel('Vehicle').selectOption(TESLA);
  await page.getByRole('button', { name: 'Apply' }).click();
  await expect(page).toHaveURL(new RegExp(`vehicle=${TESLA}`));
  await expect(page.locator('tbody tr').first()).toBeVisible();
  for (const cell of await page.locator('tbody tr td[data-label="Vehicle"]').allTextContents()) {
    expect(cell).toBe('2021 TESLA Model 3');
  }
});

test('the deliveries page pages through a long log', async ({ page, request }, testInfo) => {
  // A vehicle of its own (one per project: they share the server) with 55 deliveries:
  // 50 on the first page, 5 on the next.
  const vehicle = testInfo.project.name === 'hydrated'
    ? '7a8b9c0d-1e2f-4a3b-9c4d-5e6f7a8b9c0d'
    : '8b9c0d1e-2f3a-4b4c-8d5e-6f7a8b9c0d1e';
  const t0 = Date.now() - 7_200_000;
  for (let i = 0; i < 55; i++) {
    expect((await postSigned(request, chargingDelivery(vehicle, 'BYD', 40 + (i % 10), t0 + i * 60_000))).status()).toBe(200);
  }
  await page.goto(`/events?vehicle=${vehicle}`);
  await expect(page.locator('tbody tr')).toHaveCount(50);
  const newestFirst = await page.locator('tbody tr').first().getAttribute('data-log-id');
  await page.getByRole('link', { name: 'Older deliveries →' }).click();
  await expect(page).toHaveURL(/before=\d+/);
  await expect(page.locator('tbody tr')).toHaveCount(5);
  const older = await page.locator('tbody tr').first().getAttribute('data-log-id');
  expect(Number(older)).toBeLessThan(Number(newestFirst));
  await expect(page.getByRole('link', { name: 'Older deliveries →' })).toHaveCount(0);
  await page.getByRole('link', { name: '← Newest' }).click();
  await expect(page.locator('tbody tr')).toHaveCount(50);
});

test('a delivery shows up on open pages without a reload', async ({ page, request }, testInfo) => {
  test.skip(testInfo.project.name === 'no-js', 'live updates need JavaScript');
  const vehicle = '5d6e7f80-9a0b-4c1d-8e2f-3a4b5c6d7e8f';
  const t0 = Date.now() - 3_600_000;
  expect((await postSigned(request, chargingDelivery(vehicle, 'KIA', 30, t0))).status()).toBe(200);

  await page.goto('/');
  await expect(page.locator('body[data-hydrated="true"]')).toHaveCount(1);
  await expect(page.getByRole('status').filter({ hasText: 'Live' })).toBeVisible();
  const row = page.locator(`tr[data-vehicle-id="${vehicle}"]`);
  await expect(row.getByRole('meter', { name: 'State of charge' })).toContainText('30 %');
  await page.evaluate(() => ((window as unknown as { marker: number }).marker = 42));

  const sent = Date.now();
  expect((await postSigned(request, chargingDelivery(vehicle, 'KIA', 55, t0 + 60_000))).status()).toBe(200);
  await expect(row.getByRole('meter', { name: 'State of charge' })).toContainText('55 %', { timeout: 5_000 });
  const took = Date.now() - sent;
  console.log(`live update on the fleet page after ${took} ms`);
  expect(took).toBeLessThan(2_000);
  // Same document: the page was not reloaded.
  expect(await page.evaluate(() => (window as unknown as { marker?: number }).marker)).toBe(42);

  // The deliveries page too. Links between pages are page loads (the app runs in islands
  // mode), so the marker is set again once it is open.
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Deliveries' }).click();
  await expect(page.getByRole('heading', { name: 'Deliveries', level: 1 })).toBeVisible();
  await expect(page.locator('body[data-hydrated="true"]')).toHaveCount(1);
  await expect(page.getByRole('status').filter({ hasText: 'Live' })).toBeVisible();
  await page.evaluate(() => ((window as unknown as { marker: number }).marker = 43));
  const before = await page.locator('tr[data-outcome="rejected_signature"]').count();
  await request.post('/webhooks/smartcar', {
    data: '{}',
    headers: { 'content-type': 'application/json', 'sc-signature': '00' },
  });
  await expect(page.locator('tr[data-outcome="rejected_signature"]')).toHaveCount(Math.min(before + 1, 50), {
    timeout: 5_000,
  });
  expect(await page.evaluate(() => (window as unknown as { marker?: number }).marker)).toBe(43);
});
