import { expect, test } from '@playwright/test';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { chargeAt, screenshotPath } from './helpers';

// Each project owns a vehicle charging at a spot of its own, so the suggestion one
// project turns into a place is still there for the other.
const vehicles = {
  hydrated: { id: '7a1e4c2b-0d3f-4e5a-9b6c-1d2e3f4a5b01', spot: { latitude: 59.3105, longitude: 18.0221 } },
  'no-js': { id: '7a1e4c2b-0d3f-4e5a-9b6c-1d2e3f4a5b02', spot: { latitude: 59.3609, longitude: 17.9702 } },
} as const;

function mine(project: string) {
  return vehicles[project as keyof typeof vehicles];
}

test.beforeAll(async ({ request }, testInfo) => {
  const { id, spot } = mine(testInfo.project.name);
  // Three nights at home in March: 22:00 to 04:00 Stockholm time, 20, 25 and 30 kWh.
  for (const [day, kwh] of [[9, 20], [10, 25], [11, 30]]) {
    await chargeAt(request, id, spot, Date.UTC(2026, 2, day, 21, 0), 6 * 60, kwh);
  }
});

test('a suggested place becomes a place with a tariff, and its sessions are priced and reported', async ({ page }, testInfo) => {
  const project = testInfo.project.name;
  const { id, spot } = mine(project);
  const name = `Home of Kim (${project})`;

  await page.goto('/places');
  await expect(page.getByRole('heading', { name: 'Suggested places' })).toBeVisible();
  const suggestion = page.locator('tr').filter({ hasText: spot.latitude.toFixed(5) });
  await expect(suggestion).toContainText('3');
  await expect(suggestion).toContainText('75 kWh');
  await page.screenshot({ path: screenshotPath('places-suggestions', project), fullPage: true });
  await suggestion.getByLabel('Name').fill(name);
  await suggestion.getByLabel('Kind').selectOption('home');
  await suggestion.getByRole('button', { name: 'Create place' }).click();
  await expect(page).toHaveURL(/\/places$/);

  const card = page.locator('article.place').filter({ hasText: name });
  await expect(card).toBeVisible();
  await card.getByText('Add a tariff version').click();
  const form = card.getByRole('form', { name: 'New tariff version' });
  await form.getByLabel('Valid from').fill('2026-01-01');
  await form.getByLabel('Session fee').fill('0.50');
  await form.getByLabel('Per kWh', { exact: true }).fill('0.25');
  await form.getByRole('button', { name: 'Add tariff version' }).click();
  await expect(page).toHaveURL(/\/places$/);
  await expect(page.locator('article.place').filter({ hasText: name })).toContainText('2026-01-01');

  // The pricer catches up in the background: the notice goes once it has.
  await expect
    .poll(async () => {
      await page.goto('/places');
      return page.getByText('Re-pricing after a change').count();
    }, { timeout: 20_000 })
    .toBe(0);
  await expect(page.locator('article.place').filter({ hasText: name })).toContainText('Sessions3');
  await page.screenshot({ path: screenshotPath('places', project), fullPage: true });

  // The vehicle's sessions show the place and the cost: 0.50 + 30 kWh × 0.25 = 8.00 EUR.
  await page.goto(`/vehicles/${id}`);
  const newest = page.locator('table.sessions tbody tr').first();
  await expect(newest).toContainText(name);
  await expect(newest).toContainText('8.00 EUR');
  await newest.getByRole('link').first().click();
  const panel = page.locator('section.session-cost');
  await expect(panel).toContainText(name);
  await expect(panel.locator('p.cost')).toHaveText('8.00 EUR');
  await expect(panel.getByRole('table')).toContainText('30 kWh × 0.25 EUR');
  await page.screenshot({ path: screenshotPath('session-cost', project), fullPage: true });

  // The month report: 20 + 25 + 30 kWh, 1.50 + 18.75 EUR.
  await page.goto('/reports?month=2026-03');
  const row = page.locator(`#vehicle-report tr[data-vehicle-id="${id}"]`);
  await expect(row).toContainText('3');
  await expect(row).toContainText('75 kWh');
  await expect(row).toContainText('20.25 EUR');
  await page.screenshot({ path: screenshotPath('report', project), fullPage: true });
  const [download] = await Promise.all([
    page.waitForEvent('download'),
    page.getByRole('link', { name: 'Download CSV' }).click(),
  ]);
  const csv = fs.readFileSync(await download.path(), 'utf8');
  expect(csv.split('\n')[0]).toContain('cost_EUR');
  expect(csv).toContain(`2026-03,${id},2025 RENAULT Megane E-Tech,all,3,0,75.000,`);

  // The driver's statement, printed.
  await row.getByRole('link', { name: 'Home statement' }).click();
  await expect(page.getByRole('heading', { name: 'Reimbursement statement, 2026-03' })).toBeVisible();
  const total = page.locator('tfoot tr.total');
  await expect(total).toContainText('75 kWh');
  await expect(total).toContainText('20.25 EUR');
  await page.emulateMedia({ media: 'print' });
  await expect(page.locator('header.topbar')).toBeHidden();
  await expect(page.getByRole('link', { name: 'Download CSV' })).toBeHidden();
  await page.screenshot({ path: screenshotPath('statement-print', project), fullPage: true });
  const pdf = path.resolve(__dirname, '../output/screenshots', `statement-${project}.pdf`);
  await page.pdf({ path: pdf, format: 'A4', printBackground: false });
  expect(fs.statSync(pdf).size).toBeGreaterThan(10_000);
  await page.emulateMedia({ media: 'screen' });
});
