import { expect, test } from '@playwright/test';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { postSigned, screenshotPath } from './helpers';

const fixtures = path.resolve(__dirname, '../../server/tests/fixtures');

// Each project owns a make and model, so one project's counts are not the other's.
const owned: Record<string, { id: string; model: string }> = {
  hydrated: { id: '6d1b2c3e-4f50-4a6b-8c7d-8e9f0a1b2c31', model: 'MG4 Trophy' },
  'no-js': { id: '6d1b2c3e-4f50-4a6b-8c7d-8e9f0a1b2c32', model: 'MG4 Comfort' },
};

/**
 * A delivery of `vehicleId` whose newest observation is `lagMs` old when delivered, with
 * its wattage failed (the vehicle cannot report it).
 */
function delivery(vehicleId: string, model: string, lagMs: number, n: number) {
  const e = JSON.parse(fs.readFileSync(path.join(fixtures, '12_doc_variant_first_delivery_already_charging.json'), 'utf8'));
  const now = Date.now();
  e.eventId = `${vehicleId}-health-${now}-${n}`;
  e.vehicleId = vehicleId;
  e.meta.deliveredAt = now;
  e.meta.deliveryId = `${vehicleId}-health-${now}-${n}`;
  e.data.vehicle = { id: vehicleId, make: 'MG', model, year: 2024 };
  for (const s of e.data.signals) {
    s.meta = { oemUpdatedAt: now - lagMs, fetchedAt: now - lagMs + 2_000 };
    if (s.code === 'charge-wattage') {
      delete s.body;
      s.status = { value: 'ERROR', error: { type: 'COMPATIBILITY', code: 'VEHICLE_NOT_CAPABLE' } };
    }
  }
  return JSON.stringify(e);
}

test('data health shows how late each make, model and vehicle delivers and what it reports', async ({
  page,
  request,
}, testInfo) => {
  const project = testInfo.project.name;
  const { id, model } = owned[project];
  // Three deliveries 90 s late, one 20 minutes late.
  for (const [n, lag] of [90_000, 90_000, 90_000, 20 * 60_000].entries()) {
    expect((await postSigned(request, delivery(id, model, lag, n))).status()).toBe(200);
  }

  await page.goto('/health');
  await expect(page.getByRole('heading', { name: 'Data health' })).toBeVisible();
  const group = page.locator(`tr[data-group="MG ${model}"]`);
  await expect(group.locator('td').first()).toHaveText('1');
  await expect(group).toContainText('≤ 2 min');
  await expect(group).toContainText('≤ 30 min');
  await page.screenshot({ path: screenshotPath('health', project), fullPage: true });

  // One make and model: its vehicle, what it reports, and what it cannot.
  await group.getByRole('link', { name: `MG ${model}` }).click();
  await expect(page).toHaveURL(/\/health\?make=MG&model=/);
  await expect(page.locator('.filter-note')).toContainText(`MG ${model}`);
  const row = page.locator(`tr[data-vehicle-id="${id}"]`);
  await expect(row).toHaveCount(1);
  await expect(row).toContainText('≤ 2 min');
  await expect(page.locator('tr[data-vehicle-id]')).toHaveCount(1);
  const cells = page.locator(`table.coverage tr[data-row="${id}"] td`);
  const codes = await page.locator('table.coverage').last().locator('th.signal').evaluateAll((ths) =>
    ths.map((th) => th.getAttribute('title')),
  );
  await expect(cells.nth(codes.indexOf('tractionbattery-stateofcharge'))).toHaveText('✓');
  const wattage = cells.nth(codes.indexOf('charge-wattage'));
  await expect(wattage).toHaveText('4');
  await expect(wattage).toHaveAttribute('title', /COMPATIBILITY:VEHICLE_NOT_CAPABLE/);
  await page.setViewportSize({ width: 390, height: 844 });
  await page.screenshot({ path: screenshotPath('health-phone', project), fullPage: true });
  await page.setViewportSize({ width: 1280, height: 720 });

  // Back to every vehicle.
  await page.getByRole('link', { name: 'Every vehicle' }).click();
  await expect(page.locator('.filter-note')).toHaveCount(0);
});
