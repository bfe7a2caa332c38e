import { expect, test as setup } from '@playwright/test';
import { OPERATOR, OPERATOR_PASSWORD, STORAGE_STATE } from '../playwright.config';

setup('log in as the operator', async ({ page }) => {
  await page.goto('/');
  await expect(page).toHaveURL(/\/login\?next=/);
  await page.getByLabel('Name').fill(OPERATOR);
  await page.getByLabel('Password').fill(OPERATOR_PASSWORD);
  await page.getByRole('button', { name: 'Log in' }).click();
  await expect(page.getByRole('heading', { name: 'Fleet', level: 1 })).toBeVisible();
  await page.context().storageState({ path: STORAGE_STATE });
});
