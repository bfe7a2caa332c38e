import { expect, test } from '@playwright/test';
import { deliverPolestarDay } from './helpers';

const POLESTAR = '3e1f9b7a-5c2d-4e8f-a061-7b2c9d4e5f60';
const SESSION = `${POLESTAR}:1773511330000`;

test('every page comes alive without an error or warning in the console', async ({ page, request }, testInfo) => {
  test.skip(testInfo.project.name !== 'hydrated', 'only the hydrated app runs code in the browser');
  await deliverPolestarDay(request);
  const problems: string[] = [];
  page.on('console', (message) => {
    if (message.type() === 'error' || message.type() === 'warning') problems.push(`${message.type()}: ${message.text()}`);
  });
  page.on('pageerror', (error) => problems.push(`uncaught: ${error.message}`));
  for (const path of [
    '/',
    '/?q=polestar',
    `/vehicles/${POLESTAR}`,
    `/sessions/${SESSION}`,
    '/events',
    '/readiness',
    '/readiness?status=no_data',
    '/settings',
    '/alerts',
    '/alerts?status=resolved',
    '/notifications',
    '/health',
    '/places',
    '/places/peaks?month=2026-03',
    '/reports?month=2026-03',
    `/vehicles/${POLESTAR}/statement?month=2026-03&kind=home`,
  ]) {
    await page.goto(path);
    // The last island hydrated: every island on the page is.
    await expect(page.locator('body[data-hydrated="true"]')).toHaveCount(1);
    await expect(page.getByRole('status').filter({ hasText: 'Live' })).toBeVisible();
  }
  expect(problems).toEqual([]);
});
