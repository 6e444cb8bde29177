/**
 * Configuration for Playwright using default from @jupyterlab/galata.
 *
 * The browser is the system Chromium (/usr/bin/chromium, or
 * CHROMIUM_PATH): no browser is ever downloaded.
 */
const baseConfig = require('@jupyterlab/galata/lib/playwright-config');

const PORT = process.env.MLTRACK_UI_TEST_PORT || '8899';
const BASE_URL = `http://localhost:${PORT}`;

module.exports = {
  ...baseConfig,
  timeout: 90 * 1000,
  expect: { timeout: 15 * 1000 },
  retries: 0,
  workers: 1,
  reporter: [[process.env.CI ? 'line' : 'list']],
  use: {
    ...baseConfig.use,
    baseURL: BASE_URL,
    trace: 'off',
    video: 'off',
    launchOptions: {
      executablePath: process.env.CHROMIUM_PATH || '/usr/bin/chromium',
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run'
      ]
    }
  },
  webServer: {
    command: 'jlpm start',
    url: `${BASE_URL}/lab`,
    timeout: 120 * 1000,
    reuseExistingServer: false,
    env: { ...process.env, MLTRACK_UI_TEST_PORT: PORT }
  }
};
