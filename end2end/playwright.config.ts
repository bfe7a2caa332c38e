import { defineConfig } from '@playwright/test';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

// The test command builds the app, then points these at the build. Defaults suit a
// `cargo leptos build --release --precompress --split` in this checkout.
const port = Number(process.env.E2E_PORT ?? 3311);
const targetDir = process.env.CARGO_TARGET_DIR ?? path.resolve(__dirname, '../target');
const bin = process.env.CHARGELOG_BIN ?? path.join(targetDir, 'release', 'chargelog');
const siteRoot = process.env.LEPTOS_SITE_ROOT ?? path.resolve(__dirname, '../target/site');
const databaseUrl =
  process.env.E2E_DATABASE_URL ??
  `sqlite://${path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'chargelog-e2e-')), 'e2e.db')}`;

export const MANAGEMENT_TOKEN = 'a5f1c2d3-4b5e-4f60-8a7b-9c0d1e2f3a4b';
// The operator account the server is started with (a fresh database every run).
export const OPERATOR = 'e2e-operator';
export const OPERATOR_PASSWORD = 'browser tests only';
// A second account for the login test, so its attempts do not count against the first.
export const VISITOR = 'e2e-visitor';
export const STORAGE_STATE = path.resolve(__dirname, 'output/operator-state.json');

export default defineConfig({
  testDir: './tests',
  outputDir: './output/test-results',
  timeout: 30_000,
  fullyParallel: false,
  workers: 1,
  forbidOnly: !!process.env.CI,
  reporter: [['list']],
  use: {
    baseURL: `http://127.0.0.1:${port}`,
    // Not the server's default (UTC): the hydrated app must show times in this zone.
    timezoneId: 'Europe/Stockholm',
    trace: 'retain-on-failure',
    launchOptions: {
      executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    },
  },
  projects: [
    // Logs in once through the login form and keeps the session cookie for the others.
    // Without JavaScript, so the saved state holds no time-zone cookie either.
    { name: 'login', testMatch: /login\.setup\.ts/, use: { javaScriptEnabled: false } },
    {
      name: 'hydrated',
      dependencies: ['login'],
      use: { javaScriptEnabled: true, storageState: STORAGE_STATE },
    },
    {
      name: 'no-js',
      dependencies: ['login'],
      use: { javaScriptEnabled: false, storageState: STORAGE_STATE },
    },
  ],
  webServer: {
    command: [
      `printf '%s\\n' '${OPERATOR_PASSWORD}' | "${bin}" user add ${OPERATOR} --password-stdin`,
      `printf '%s\\n' '${OPERATOR_PASSWORD}' | "${bin}" user add ${VISITOR} --password-stdin`,
      `exec "${bin}" serve`,
    ].join(' && '),
    url: `http://127.0.0.1:${port}/healthz`,
    reuseExistingServer: false,
    timeout: 60_000,
    stdout: 'pipe',
    stderr: 'pipe',
    env: {
      DATABASE_URL: databaseUrl,
      SMARTCAR_MANAGEMENT_TOKEN: MANAGEMENT_TOKEN,
      LEPTOS_SITE_ADDR: `127.0.0.1:${port}`,
      LEPTOS_SITE_ROOT: siteRoot,
      RUST_LOG: 'warn',
    },
  },
});
