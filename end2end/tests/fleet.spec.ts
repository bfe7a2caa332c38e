import { expect, test } from '@playwright/test';
import * as fs from 'node:fs';
import { chargingDelivery, deliverFixture, postSigned, screenshotPath } from './helpers';

const POLESTAR = '3e1f9b7a-5c2d-4e8f-a061-7b2c9d4e5f60';
const TESLA = '9b8a7c6d-1e2f-4a3b-8c5d-0e1f2a3b4c5d';

test('a signed delivery appears on the fleet page', async ({ page, request }, testInfo) => {
  await deliverFixture(request, '02_first_delivery.json');
  await deliverFixture(request, '12_doc_variant_first_delivery_already_charging.json');
  // A vehicle charging now: the fixtures describe a day in March, long gone stale.
  const NOW_CHARGING = '7e570000-0000-4000-8000-0000000000c1';
  expect((await postSigned(request, chargingDelivery(NOW_CHARGING, 'KIA', 64, Date.now() - 60_000))).status()).toBe(200);
  // The Content-Security-Policy lets the app run and blocks nothing it needs.
  const violations: string[] = [];
  page.on('console', (message) => {
    if (message.text().includes('Content Security Policy')) violations.push(message.text());
  });

  const response = await page.goto('/');
  expect(response?.status()).toBe(200);
  await expect(page).toHaveTitle('Fleet · chargelog');

  const polestar = page.locator(`tr[data-vehicle-id="${POLESTAR}"]`);
  await expect(polestar).toContainText('2023 POLESTAR Polestar 2');
  // Other specs deliver more of the Polestar's day to the same server, so only what
  // stays true whatever they sent is checked for it; the Tesla gets nothing else.
  await expect(polestar.getByRole('meter', { name: 'State of charge' })).toContainText(' %');
  await expect(polestar).toContainText('Idle');

  const kia = page.locator(`tr[data-vehicle-id="${NOW_CHARGING}"]`);
  await expect(kia.locator('[data-status]')).toHaveText('Charging');
  await expect(kia).toContainText('7.2 kW');

  // The Tesla was charging when it last reported, in March: that is stale now, and says so.
  // (Other specs add vehicles of their own: found by a search, it is on the first page.)
  await page.goto('/?q=tesla');
  const tesla = page.locator(`tr[data-vehicle-id="${TESLA}"]`);
  await expect(tesla).toContainText('2021 TESLA Model 3');
  await expect(tesla.locator('[data-status]')).toHaveText('Stale');
  await expect(tesla).toContainText('(was Charging)');
  await expect(tesla.locator('.stale-age')).toContainText(/months?|days/);
  await expect(tesla.getByRole('meter', { name: 'State of charge' })).toContainText('47 %');
  await page.goto('/');

  // Totals and the fleet's energy chart sit above the table.
  await expect(page.getByRole('term').filter({ hasText: 'Charging now' })).toBeVisible();
  await expect(page.locator('[data-total="charging"]')).not.toHaveText('0');
  await expect(page.getByRole('img', { name: /Fleet energy added per day/ })).toBeVisible();
  await expect(page.locator('.energy-chart .bar')).toHaveCount(30);
  if (testInfo.project.name === 'hydrated') {
    // The WASM app took over the server-rendered page.
    await expect(page.locator('body[data-hydrated="true"]')).toHaveCount(1);
  }
  expect(violations).toEqual([]);
  for (const [name, width] of [['fleet-desktop', 1280], ['fleet-phone', 360]] as const) {
    await page.setViewportSize({ width, height: 800 });
    await page.screenshot({ path: screenshotPath(name, testInfo.project.name), fullPage: true });
  }
  // The dark theme follows the system setting.
  await page.setViewportSize({ width: 1280, height: 800 });
  await page.emulateMedia({ colorScheme: 'dark' });
  await page.screenshot({ path: screenshotPath('fleet-dark', testInfo.project.name), fullPage: true });
  await page.emulateMedia({ colorScheme: 'light' });
});

test('the whole fleet downloads as one CSV', async ({ page }) => {
  await page.goto('/');
  const [download] = await Promise.all([
    page.waitForEvent('download'),
    page.getByRole('button', { name: 'Download all sessions (CSV)' }).click(),
  ]);
  expect(download.suggestedFilename()).toBe('chargelog-fleet-sessions.csv');
  const text = fs.readFileSync(await download.path(), 'utf8');
  expect(text.split('\n')[0]).toContain('vehicle_id');
});

test('the keyboard reaches the content first', async ({ page }) => {
  await page.goto('/');
  await page.keyboard.press('Tab');
  const skip = page.getByRole('link', { name: 'Skip to content' });
  await expect(skip).toBeFocused();
  await expect(skip).toBeVisible();
  await page.keyboard.press('Enter');
  await expect(page).toHaveURL(/#main$/);
});

test('an unknown address shows the not-found page with a 404', async ({ page }, testInfo) => {
  const response = await page.goto('/vehicles/nope/nothing');
  expect(response?.status()).toBe(404);
  await expect(page.getByRole('heading', { name: 'Page not found' })).toBeVisible();
  await page.getByRole('link', { name: 'Back to the fleet' }).click();
  await expect(page.getByRole('heading', { name: 'Fleet', level: 1 })).toBeVisible();
  await page.screenshot({ path: screenshotPath('not-found', testInfo.project.name) });
});

test('the fleet can be searched and sorted, and the URL keeps it', async ({ page }) => {
  await page.goto('/');
  await page.getByLabel('Search').fill('tesla');
  await page.getByRole('button', { name: 'Apply' }).click();
  await expect(page).toHaveURL(/q=tesla/);
  await expect(page.locator('tr[data-vehicle-id]')).toHaveCount(1);
  await page.goto('/?sort=soc&dir=desc');
  await expect(page.getByRole('columnheader', { name: /State of charge/ })).toHaveAttribute('aria-sort', 'descending');
});
