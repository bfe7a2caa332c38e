import { expect, test } from '@playwright/test';
import * as fs from 'node:fs';
import { deliverPolestarDay, screenshotPath } from './helpers';

const POLESTAR = '3e1f9b7a-5c2d-4e8f-a061-7b2c9d4e5f60';
const SESSION = `${POLESTAR}:1773511330000`;

test.beforeAll(async ({ request }) => {
  await deliverPolestarDay(request);
});

test('from the fleet to a vehicle to one of its sessions', async ({ page }, testInfo) => {
  await page.goto('/');
  await page.getByRole('link', { name: '2023 POLESTAR Polestar 2' }).click();
  await expect(page).toHaveURL(new RegExp(`/vehicles/${POLESTAR}$`));
  await expect(page.getByRole('heading', { name: '2023 POLESTAR Polestar 2', level: 1 })).toBeVisible();
  const row = page.locator(`tr[data-session-id="${SESSION}"]`);
  await expect(row).toContainText('2 h 13 min');
  await expect(row).toContainText('41 % → 80 %');
  await expect(row).toContainText('33.1 kWh (counter)');
  for (const [name, width] of [['vehicle-desktop', 1280], ['vehicle-phone', 360]] as const) {
    await page.setViewportSize({ width, height: 800 });
    await page.screenshot({ path: screenshotPath(name, testInfo.project.name), fullPage: true });
  }
  await page.setViewportSize({ width: 1280, height: 800 });

  await row.getByRole('link').click();
  await expect(page).toHaveURL(new RegExp(`/sessions/${SESSION}$`));
  // The hydrated app shows the browser's zone (Stockholm, UTC+1 in March); without
  // JavaScript the server's default, UTC. The footer says which.
  const hydrated = testInfo.project.name === 'hydrated';
  await expect(page.getByRole('heading', { name: `Session 2026-03-14 ${hydrated ? '19' : '18'}:02` })).toBeVisible();
  await expect(page.locator('.zone-name')).toHaveText(hydrated ? 'Europe/Stockholm' : 'UTC');
  await expect(page.locator('.facts').first()).toContainText('33.1 kWh (from counter)');
  await expect(page.locator('table.samples tbody tr')).toHaveCount(5);
  const chart = page.getByRole('img', { name: /Charge curve/ });
  await expect(chart).toBeVisible();
  await expect(page.locator('.chart .band')).toHaveCount(5);
  if (testInfo.project.name === 'hydrated') {
    // Hovering a reading shows its values in the read-out, once the chart is alive.
    await expect(page.locator('body[data-hydrated="true"]')).toHaveCount(1);
    await page.locator('.chart .band').nth(2).hover();
    await expect(page.locator('.chart .readout')).toContainText('20:05 · 10.9 kW · 56 %');
  }
  await expect(page.locator('table.deliveries tbody tr').first()).toBeVisible();
  for (const [name, width] of [['session-desktop', 1280], ['session-phone', 360]] as const) {
    await page.setViewportSize({ width, height: 800 });
    await page.screenshot({ path: screenshotPath(name, testInfo.project.name), fullPage: true });
  }
});

test('the vehicle page charts energy by day, week or month and lists its signals', async ({ page }, testInfo) => {
  await page.goto(`/vehicles/${POLESTAR}?from=2026-03-01&to=2026-03-31`);
  const chart = page.getByRole('img', { name: /Energy added per day/ });
  await expect(chart).toBeVisible();
  await expect(page.locator('.energy-chart .bar')).toHaveCount(31);
  await expect(page.locator('.energy-chart .bar title').filter({ hasText: '14 Mar 2026: 33.1 kWh' })).toHaveCount(1);
  if (testInfo.project.name === 'hydrated') {
    // Keyboard: focusing a bar reads it out, once the chart's island is alive (a focus
    // before it hydrates reaches no handler).
    await expect(page.locator('body[data-hydrated="true"]')).toHaveCount(1);
    await page.locator('.energy-chart .bar').nth(13).focus();
    await expect(page.locator('.energy-chart .readout')).toContainText('Sat 14 Mar 2026: 33.1 kWh in 1 session');
  }
  await page.getByRole('navigation', { name: 'Chart period' }).getByRole('link', { name: 'Weeks' }).click();
  await expect(page).toHaveURL(/chart=week/);
  await expect(page.getByRole('img', { name: /Energy added per week/ })).toBeVisible();
  // 1 March 2026 is a Sunday: the weeks of 23 February to 30 March.
  await expect(page.locator('.energy-chart .bar')).toHaveCount(6);

  const signals = page.getByRole('region', { name: 'Signals' });
  await expect(signals.locator('tr[data-signal="tractionbattery-stateofcharge"]')).toContainText('%');
  await expect(signals.getByRole('heading', { name: 'Signals that report errors' })).toBeVisible();
  await expect(signals.locator('ul.error-list').first()).toContainText('charge-');
});

test('the date filter lives in the URL', async ({ page }) => {
  await page.goto(`/vehicles/${POLESTAR}`);
  await page.getByLabel('From', { exact: true }).fill('2026-03-15');
  await page.getByLabel('To', { exact: true }).fill('2026-03-20');
  await page.getByRole('button', { name: 'Apply' }).click();
  await expect(page).toHaveURL(/from=2026-03-15&to=2026-03-20/);
  await expect(page.getByText('No charging sessions in this range.')).toBeVisible();
  await expect(page.getByRole('link', { name: 'Download these sessions as CSV' })).toHaveAttribute(
    'href',
    `/vehicles/${POLESTAR}/sessions.csv?from=2026-03-15&to=2026-03-20`,
  );
});

test('the filtered sessions download as CSV', async ({ page }) => {
  await page.goto(`/vehicles/${POLESTAR}?from=2026-03-14&to=2026-03-14`);
  const [download] = await Promise.all([
    page.waitForEvent('download'),
    page.getByRole('link', { name: 'Download these sessions as CSV' }).click(),
  ]);
  expect(download.suggestedFilename()).toBe(`chargelog-${POLESTAR}-sessions.csv`);
  const file = await download.path();
  const lines = fs.readFileSync(file, 'utf8').trim().split('\n');
  expect(lines[0]).toContain('energy_added_kwh');
  expect(lines).toHaveLength(2);
  expect(lines[1]).toContain(SESSION);
});

test('unknown vehicles and sessions are a 404', async ({ page }) => {
  for (const path of ['/vehicles/no-such-vehicle', '/sessions/no-such-session']) {
    const response = await page.goto(path);
    expect(response?.status()).toBe(404);
    await expect(page.getByRole('heading', { name: 'Page not found' })).toBeVisible();
  }
});
