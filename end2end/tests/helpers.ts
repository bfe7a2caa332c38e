import { APIRequestContext, expect } from '@playwright/test';
import { createHmac } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { MANAGEMENT_TOKEN } from '../playwright.config';

const fixtures = path.resolve(__dirname, '../../server/tests/fixtures');

/** POSTs a fixture file byte for byte, signed as Smartcar signs it. */
export async function deliverFixture(request: APIRequestContext, name: string) {
  const body = fs.readFileSync(path.join(fixtures, name));
  const signature = createHmac('sha256', MANAGEMENT_TOKEN).update(body).digest('hex');
  const response = await request.post('/webhooks/smartcar', {
    data: body,
    headers: { 'content-type': 'application/json', 'sc-signature': signature },
  });
  expect(response.status()).toBe(200);
  expect(['stored', 'duplicate']).toContain((await response.json()).status);
}

export function screenshotPath(name: string, project: string) {
  return path.resolve(__dirname, '../output/screenshots', `${name}-${project}.png`);
}
