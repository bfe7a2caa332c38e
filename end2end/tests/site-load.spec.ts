import { expect, test } from '@playwright/test';
import { chargeAt, screenshotPath } from './helpers';

// Each project owns three vans at a depot of its own, so one project's place and load
// are not the other's.
const depots = {
  hydrated: {
    name: 'Depot Södra (hydrated)',
    spot: { latitude: 59.2801, longitude: 18.0102 },
    vans: ['8b2e5d3c-1a4f-4b6c-9d7e-2f3a4b5c6d01', '8b2e5d3c-1a4f-4b6c-9d7e-2f3a4b5c6d02', '8b2e5d3c-1a4f-4b6c-9d7e-2f3a4b5c6d03'],
  },
  'no-js': {
    name: 'Depot Norra (no-js)',
    spot: { latitude: 59.4102, longitude: 17.9303 },
    vans: ['8b2e5d3c-1a4f-4b6c-9d7e-2f3a4b5c6d11', '8b2e5d3c-1a4f-4b6c-9d7e-2f3a4b5c6d12', '8b2e5d3c-1a4f-4b6c-9d7e-2f3a4b5c6d13'],
  },
} as const;

function mine(project: string) {
  return depots[project as keyof typeof depots];
}

test.beforeAll(async ({ request }, testInfo) => {
  const { spot, vans } = mine(testInfo.project.name);
  // Tuesday 10 February 2026, back in the evening (UTC): 30 kWh over 3 h from 16:00,
  // 20 kWh over 2 h from 16:30, 40 kWh over 4 h from 17:00: all three at once from
  // 17:00 to 18:30.
  const evening = [
    [Date.UTC(2026, 1, 10, 16, 0), 180, 30],
    [Date.UTC(2026, 1, 10, 16, 30), 120, 20],
    [Date.UTC(2026, 1, 10, 17, 0), 240, 40],
  ];
  for (const [i, [start, minutes, kwh]] of evening.entries()) {
    await chargeAt(request, vans[i], spot, start, minutes, kwh);
  }
});

test('a depot shows its load, its evening peak and what a power cap would have done', async ({ page }, testInfo) => {
  const project = testInfo.project.name;
  const { name, spot } = mine(project);

  // The depot becomes a place; the pricer places its sessions and keeps their load.
  await page.goto('/places');
  const create = page.getByRole('form', { name: 'New place' });
  await page.getByText('New place', { exact: true }).click();
  await create.getByLabel('Name').fill(name);
  await create.getByLabel('Kind').selectOption('depot');
  await create.getByLabel('Latitude').fill(String(spot.latitude));
  await create.getByLabel('Longitude').fill(String(spot.longitude));
  await create.getByLabel('Time zone').fill('Europe/Stockholm');
  await create.getByRole('button', { name: 'Create place' }).click();
  await expect(page).toHaveURL(/\/places$/);
  await expect
    .poll(async () => {
      await page.goto('/places');
      return page.getByText('Re-pricing after a change').count();
    }, { timeout: 20_000 })
    .toBe(0);
  const card = page.locator('article.place').filter({ hasText: name });
  await expect(card).toContainText('Sessions3');
  await card.getByRole('link', { name: 'Power, peaks and what-if' }).click();
  await expect(page).toHaveURL(/\/places\/[\w-]+\/load$/);
  await expect(page.getByRole('heading', { name: `Load at ${name}` })).toBeVisible();

  // The evening, in 15-minute intervals: 90 kWh, a peak of 30 kW (10 + 10 + 10) from
  // 18:00 in Stockholm, all three vans in it, 2.5 kWh each.
  const id = page.url().match(/\/places\/([\w-]+)\/load/)![1];
  await page.goto(`/places/${id}/load?from=2026-02-10&to=2026-02-10`);
  const figures = page.locator('dl.figures');
  await expect(figures).toContainText('90 kWh');
  await expect(figures).toContainText('30 kW at 2026-02-10 18:00');
  await expect(page.locator('figure.load-chart rect.bar-fill')).toHaveCount(4 * 5);
  const month = page.locator('table.peaks').first().locator('tbody tr');
  await expect(month).toHaveCount(1);
  await expect(month).toContainText('February 2026');
  await expect(month).toContainText('30 kW');
  await expect(month.locator('td').last()).toContainText('(2.5 kWh)');
  // Tuesday, 18:00 local: the hour all three drew.
  await expect(page.locator('table.heat tbody tr').nth(1).locator('td').nth(18)).toHaveAttribute(
    'title',
    /^Tue 18:00: 30 kW on average$/,
  );
  await page.screenshot({ path: screenshotPath('site-load', project), fullPage: true });

  // What if the depot were capped at 15 kW: never above it, and some vans finish later.
  const whatIf = page.getByRole('form', { name: 'What if' });
  await whatIf.getByLabel('Limit (kW)').fill('15');
  await whatIf.getByLabel('From').fill('2026-02-10');
  await whatIf.getByLabel('To').fill('2026-02-10');
  await whatIf.getByRole('button', { name: 'Replay' }).click();
  await expect(page).toHaveURL(/cap_kw=15/);
  const result = page.locator('table.what-if');
  await expect(result.locator('caption')).toHaveText('3 sessions replayed under 15 kW from 10 Feb 2026 to 10 Feb 2026');
  const row = (label: string) => result.locator('tr').filter({ hasText: label }).locator('td');
  await expect(row('Peak as recorded').first()).toHaveText('30 kW');
  await expect(row('Peak under the limit').first()).toHaveText('15 kW');
  await expect(row('Peak under the limit').last()).toHaveText('15 kW');
  expect(Number(await row('Sessions that finish later').first().textContent())).toBeGreaterThan(0);
  await result.scrollIntoViewIfNeeded();
  await page.screenshot({ path: screenshotPath('site-load-what-if', project), fullPage: true });

  // The month: a bar per day's peak, and a bar zooms to its day.
  await page.goto(`/places/${id}/load?from=2026-02-01&to=2026-02-28`);
  await expect(page.locator('figure.load-chart a')).toHaveCount(1);
  await page.locator('figure.load-chart a').click();
  await expect(page).toHaveURL(/from=2026-02-10&to=2026-02-10/);
  await expect(page.locator('dl.figures')).toContainText('90 kWh');

  // Every site's peak that month, side by side.
  await page.goto('/places/peaks?month=2026-02');
  const site = page.locator(`tr[data-place-id="${id}"]`);
  await expect(site).toContainText(name);
  await expect(site).toContainText('30 kW');
  await expect(site).toContainText('90 kWh');
  await page.screenshot({ path: screenshotPath('site-peaks', project), fullPage: true });
});
