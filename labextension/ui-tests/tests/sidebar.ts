/**
 * What the browser tests do with the Runs sidebar and their screenshots, once.
 */

import { expect, IJupyterLabPageFixture, TestInfo } from '@jupyterlab/galata';
import type { Locator } from '@playwright/test';

/** Open the Runs sidebar and wait until it shows. */
export async function openSidebar(
  page: IJupyterLabPageFixture
): Promise<Locator> {
  await page.evaluate(async () => {
    await window.jupyterapp.commands.execute('mltrack:open-sidebar');
  });
  const sidebar = page.locator('#jp-mltrack-sidebar');
  await expect(sidebar).toBeVisible();
  return sidebar;
}

/** A screenshot in the test's output folder, attached to its report. */
export async function shot(
  target: IJupyterLabPageFixture | Locator,
  testInfo: TestInfo,
  name: string
): Promise<void> {
  const path = testInfo.outputPath(`${name}.png`);
  await target.screenshot({ path });
  await testInfo.attach(name, { path, contentType: 'image/png' });
}

/**
 * The page's uncaught errors and the console errors that name mltrack, as
 * they come: a test ends by expecting none.
 */
export function collectErrors(page: IJupyterLabPageFixture): string[] {
  const errors: string[] = [];
  page.on('pageerror', error => errors.push(error.message));
  page.on('console', message => {
    if (message.type() === 'error' && /mltrack/i.test(message.text())) {
      errors.push(message.text());
    }
  });
  return errors;
}

/**
 * Dismiss every notification (a success toast would cover what the next
 * screenshot shows) and wait until they are gone.
 */
export async function closeNotifications(
  page: IJupyterLabPageFixture
): Promise<void> {
  await page.evaluate(async () => {
    // Without an id, every notification is dismissed.
    await window.jupyterapp.commands.execute(
      'apputils:dismiss-notification',
      {}
    );
  });
  await expect(page.locator('.jp-Notification-Toast-success')).toHaveCount(0);
}
