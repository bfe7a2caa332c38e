import { expect, test } from '@playwright/test';
import { OPERATOR_PASSWORD, VISITOR } from '../playwright.config';
import { screenshotPath } from './helpers';

// A browser that has not logged in.
test.use({ storageState: { cookies: [], origins: [] } });

test('log in, browse, log out', async ({ page }, testInfo) => {
  const response = await page.goto('/events');
  // Sent to the login page, which remembers where we were going.
  await expect(page).toHaveURL(/\/login\?next=%2Fevents/);
  expect(response?.status()).toBe(200);
  await page.screenshot({ path: screenshotPath('login', testInfo.project.name) });

  await page.getByLabel('Name').fill(VISITOR);
  await page.getByLabel('Password').fill('not the password');
  await page.getByRole('button', { name: 'Log in' }).click();
  await expect(page.getByRole('alert')).toContainText('do not match');

  await page.getByLabel('Name').fill(VISITOR);
  await page.getByLabel('Password').fill(OPERATOR_PASSWORD);
  await page.getByRole('button', { name: 'Log in' }).click();
  await expect(page).toHaveURL(/\/events$/);
  await expect(page.getByRole('heading', { name: 'Deliveries', level: 1 })).toBeVisible();
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Fleet' }).click();
  await expect(page.getByRole('heading', { name: 'Fleet', level: 1 })).toBeVisible();

  await page.getByRole('button', { name: 'Log out' }).click();
  await expect(page).toHaveURL(/\/login$/);
  await page.goto('/');
  await expect(page).toHaveURL(/\/login\?next=/);
});
