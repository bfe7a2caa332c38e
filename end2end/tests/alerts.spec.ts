import { expect, test } from '@playwright/test';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { postSigned, screenshotPath } from './helpers';

const fixtures = path.resolve(__dirname, '../../server/tests/fixtures');

// Each project owns a vehicle, so one project's alert is not the other's.
const vehicles: Record<string, string> = {
  hydrated: '5c0a1b2d-3e4f-4a5b-8c6d-7e8f9a0b1c11',
  'no-js': '5c0a1b2d-3e4f-4a5b-8c6d-7e8f9a0b1c12',
};

/** The vehicle at 50 %, plugged in, `charging` or not, as observed `ageMs` ago. */
function state(vehicleId: string, charging: boolean, ageMs: number) {
  const e = JSON.parse(fs.readFileSync(path.join(fixtures, '12_doc_variant_first_delivery_already_charging.json'), 'utf8'));
  const at = Date.now() - ageMs;
  e.eventId = `${vehicleId}-${at}-${charging}`;
  e.vehicleId = vehicleId;
  e.data.vehicle = { id: vehicleId, make: 'CUPRA', model: 'Born', year: 2024 };
  for (const s of e.data.signals) {
    s.meta = { oemUpdatedAt: at, fetchedAt: at + 5_000 };
    if (s.code === 'tractionbattery-stateofcharge') s.body.value = 50;
    if (s.code === 'charge-ischarging') s.body.value = charging;
    if (s.code === 'charge-ischargingcableconnected') s.body.value = true;
    if (s.code === 'charge-wattage') s.body.value = charging ? 11_000 : 0;
  }
  return JSON.stringify(e);
}

test('an alert appears live, is acknowledged with a note, and resolves', async ({ page, request }, testInfo) => {
  const project = testInfo.project.name;
  const id = vehicles[project];
  const alert = page.locator(`li.alert[data-vehicle="${id}"][data-kind="plugged_not_charging"]`);

  await page.goto('/alerts');
  if (project === 'hydrated') await expect(page.getByRole('status').filter({ hasText: 'Live' })).toBeVisible();
  // Plugged in and idle for 20 minutes: past the 15-minute threshold.
  expect((await postSigned(request, state(id, false, 20 * 60_000))).status()).toBe(200);
  if (project === 'no-js') await page.reload();
  await expect(alert).toHaveAttribute('data-state', 'open', { timeout: 15_000 });
  await expect(alert).toContainText('Plugged, not charging');
  await expect(alert).toContainText('50 %, plugged in and not charging since');
  await expect(page.locator('a.alert-count')).not.toHaveAttribute('data-open', '0');

  // Acknowledged with a note (a plain form: the same with and without JavaScript).
  await alert.getByLabel('Note').fill(`${project}: Sam is on it`);
  await alert.getByRole('button', { name: 'Acknowledge' }).click();
  await expect(page).toHaveURL(/\/alerts/);
  await expect(alert).toHaveAttribute('data-acknowledged', 'true');
  await expect(alert.locator('.acknowledged')).toContainText('Acknowledged by');
  await expect(alert.locator('.note')).toHaveText(`${project}: Sam is on it`);
  await page.screenshot({ path: screenshotPath('alerts', project), fullPage: true });
  await page.setViewportSize({ width: 390, height: 844 });
  await page.screenshot({ path: screenshotPath('alerts-phone', project), fullPage: true });
  await page.setViewportSize({ width: 1280, height: 720 });

  // Filters: by kind, and resolved ones only.
  await page.goto(`/alerts?kind=plugged_not_charging&vehicle=${id}`);
  await expect(page.locator('li.alert')).toHaveCount(1);

  // It charges: the alert resolves, and the page shows it by itself when hydrated.
  await page.goto('/alerts');
  if (project === 'hydrated') await expect(page.getByRole('status').filter({ hasText: 'Live' })).toBeVisible();
  expect((await postSigned(request, state(id, true, 30_000))).status()).toBe(200);
  if (project === 'no-js') await page.reload();
  await expect(alert).toHaveAttribute('data-state', 'resolved', { timeout: 15_000 });
  await expect(alert.locator('.note')).toHaveText(`${project}: Sam is on it`);
});

test('alert rules are set on the settings page, and a bad threshold is refused', async ({ page }, testInfo) => {
  test.skip(testInfo.project.name !== 'no-js', 'one project changes the rules');
  await page.goto('/settings#alert-rules');
  const rules = page.locator('form.alert-rules');
  // The browser refuses 0 by itself; the server must too, for a client that does not.
  const minutes = rules.locator('input[name="plugged_not_charging.minutes"]');
  await minutes.evaluate((input) => input.removeAttribute('min'));
  await minutes.fill('0');
  await rules.getByRole('button', { name: 'Save alert rules' }).click();
  await expect(page.getByRole('alert')).toContainText('plugged_not_charging.minutes');
  await rules.locator('input[name="plugged_not_charging.minutes"]').fill('20');
  await rules.getByRole('button', { name: 'Save alert rules' }).click();
  await expect(rules.locator('input[name="plugged_not_charging.minutes"]')).toHaveValue('20');
  // Back to the default, for the other tests.
  await rules.locator('input[name="plugged_not_charging.minutes"]').fill('15');
  await rules.getByRole('button', { name: 'Save alert rules' }).click();
  await expect(rules.locator('input[name="plugged_not_charging.minutes"]')).toHaveValue('15');
  await page.locator('section').filter({ hasText: 'Alert rules' }).screenshot({ path: screenshotPath('alert-rules', 'no-js') });
});

test('a webhook inside the network is refused; the notifications page says why', async ({ page }, testInfo) => {
  test.skip(testInfo.project.name !== 'no-js', 'one project tries it');
  await page.goto('/notifications');
  await page.getByLabel('Name').fill('Yard pager');
  await page.getByLabel('Webhook URL').fill('http://127.0.0.1:9/hook');
  await page.getByRole('button', { name: 'Add webhook' }).click();
  await expect(page.getByRole('alert')).toContainText('loopback, private or link-local');
  await page.screenshot({ path: screenshotPath('notifications', 'no-js'), fullPage: true });
});
