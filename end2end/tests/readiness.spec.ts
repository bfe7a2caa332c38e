import { expect, test } from '@playwright/test';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { postSigned, screenshotPath } from './helpers';

const fixtures = path.resolve(__dirname, '../../server/tests/fixtures');

// Each project owns a vehicle, so one project's schedule is not the other's.
const vehicles: Record<string, string> = {
  hydrated: '5c0a1b2d-3e4f-4a5b-8c6d-7e8f9a0b1c01',
  'no-js': '5c0a1b2d-3e4f-4a5b-8c6d-7e8f9a0b1c02',
};

/** The vehicle charging now at `kw`, at `soc` percent, observed a minute ago. */
function chargingNow(vehicleId: string, soc: number, kw: number) {
  const e = JSON.parse(fs.readFileSync(path.join(fixtures, '12_doc_variant_first_delivery_already_charging.json'), 'utf8'));
  const at = Date.now() - 60_000;
  e.eventId = `${vehicleId}-${at}-${kw}`;
  e.vehicleId = vehicleId;
  e.data.vehicle = { id: vehicleId, make: 'VOLVO', model: 'EX30', year: 2025 };
  for (const s of e.data.signals) {
    s.meta = { oemUpdatedAt: at, fetchedAt: at + 5_000 };
    if (s.code === 'tractionbattery-stateofcharge') s.body.value = soc;
    if (s.code === 'charge-wattage') s.body.value = kw * 1000;
  }
  return JSON.stringify(e);
}

test('a vehicle that will not make its departure shows at risk, and the board follows it', async ({ page, request }, testInfo) => {
  const project = testInfo.project.name;
  const id = vehicles[project];
  // 30 % at 2 kW on an assumed 60 kWh: about 40 % three hours on, 80 % needed.
  expect((await postSigned(request, chargingNow(id, 30, 2))).status()).toBe(200);

  // Its own schedule, every day three hours from now (UTC), through the vehicle page's form.
  const departure = new Date(Date.now() + 3 * 3_600_000);
  const hhmm = departure.toISOString().slice(11, 16);
  await page.goto(`/vehicles/${id}`);
  const card = page.locator('section.card').filter({ hasText: 'Departure schedule' });
  await card.getByText('Set a schedule of its own').click();
  const form = card.getByRole('form', { name: 'Its own departure schedule' });
  await form.getByLabel('Time zone (IANA)').fill('UTC');
  await form.getByLabel('Charge needed at departure (%)').fill('80');
  const first = form.locator('fieldset.departure-row').first();
  await first.getByLabel('Time').fill(hhmm);
  for (const day of ['sat', 'sun']) await first.getByLabel(day).check();
  await form.getByRole('button', { name: 'Save schedule' }).click();
  await expect(page).toHaveURL(new RegExp(`/vehicles/${id}$`));
  await expect(page.locator('p.current-schedule')).toHaveText(`Its own: Every day ${hhmm} (UTC), 80 % needed.`);

  await page.goto('/readiness');
  const row = page.locator(`tr[data-vehicle="${id}"]`);
  await expect(row).toHaveAttribute('data-status', 'at_risk');
  await expect(row).toContainText('At risk');
  await expect(row).toContainText('30 % → 40 %');
  await expect(row).toContainText('needs 80 %');
  await expect(row).toContainText('Charging · 2 kW');
  await expect(row).toContainText('low confidence: power now, assumed 60 kWh, assumed taper');
  await expect(page.getByRole('link', { name: /^At risk \d+$/ })).toBeVisible();
  await page.screenshot({ path: screenshotPath('readiness', project), fullPage: true });
  await page.setViewportSize({ width: 390, height: 844 });
  await page.screenshot({ path: screenshotPath('readiness-phone', project), fullPage: true });
  await page.setViewportSize({ width: 1280, height: 720 });

  // The status chip filters.
  await page.getByRole('link', { name: /^At risk \d+$/ }).click();
  await expect(page).toHaveURL(/status=at_risk/);
  await expect(page.locator('table.readiness tbody tr:not([data-status="at_risk"])')).toHaveCount(0);
  await page.goto('/readiness');

  // Someone moves it to a fast charger: 22 kW fills it in time. Hydrated, the board
  // follows the delivery by itself (once its live connection is open); without
  // JavaScript, a reload shows it.
  if (project === 'hydrated') await expect(page.getByRole('status').filter({ hasText: 'Live' })).toBeVisible();
  expect((await postSigned(request, chargingNow(id, 31, 22))).status()).toBe(200);
  if (project === 'no-js') await page.reload();
  await expect(row).toHaveAttribute('data-status', 'on_track', { timeout: 10_000 });
  await expect(row).toContainText('On track');

  // The vehicle page says so too, and it can go back to the fleet default.
  await page.goto(`/vehicles/${id}`);
  await expect(page.locator('p.readiness-line')).toContainText('On track');
  await page.getByRole('button', { name: 'Follow the fleet default' }).click();
  await expect(page.locator('p.current-schedule')).not.toContainText('Its own');
});

test('the fleet default schedule is set on the settings page, and a bad one is refused', async ({ page }, testInfo) => {
  test.skip(testInfo.project.name !== 'no-js', 'one project sets the fleet default');
  await page.goto('/settings');
  const form = page.getByRole('form', { name: 'Default departure schedule' });
  await form.getByLabel('Time zone (IANA)').fill('Mars/Olympus');
  await form.getByRole('button', { name: 'Save schedule' }).click();
  await expect(page.getByRole('alert')).toContainText('timezone');
  await form.getByLabel('Time zone (IANA)').fill('Europe/Stockholm');
  await form.locator('fieldset.departure-row').first().getByLabel('Time').fill('05:30');
  await form.getByRole('button', { name: 'Save schedule' }).click();
  await expect(page.locator('p.current-schedule')).toHaveText('Now: Mon–Fri 05:30 (Europe/Stockholm), 80 % needed.');
  await page.screenshot({ path: screenshotPath('settings', testInfo.project.name), fullPage: true });
});
