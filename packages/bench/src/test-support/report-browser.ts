import { existsSync } from "node:fs";
import { pathToFileURL } from "node:url";
import type { Page } from "playwright-core";

const CHROMIUM = process.env["LABGATE_CHROMIUM"] ?? "/usr/bin/chromium";
/** LABGATE_SKIP_BROWSER=1 leaves the browser checks out (the rest of each test still runs). */
export const skipBrowser = process.env["LABGATE_SKIP_BROWSER"] === "1";

/**
 * Opens report.html in headless Chromium with every request but file: aborted (the report must need no
 * network) and hands the loaded page to `use`; undefined when LABGATE_SKIP_BROWSER=1. A missing Chromium fails.
 */
export async function withReportPage<T>(
  reportHtml: string,
  use: (page: Page) => Promise<T>,
): Promise<T | undefined> {
  if (skipBrowser) return undefined;
  if (!existsSync(CHROMIUM))
    throw new Error(
      `Chromium not found at ${CHROMIUM}: install it or set LABGATE_CHROMIUM (LABGATE_SKIP_BROWSER=1 skips).`,
    );
  const { chromium } = await import("playwright-core");
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-background-networking",
      "--no-first-run",
    ],
  });
  try {
    const page = await browser.newPage({ viewport: { width: 1000, height: 800 } });
    await page.route("**/*", (route) =>
      route.request().url().startsWith("file:") ? route.continue() : route.abort(),
    );
    await page.goto(pathToFileURL(reportHtml).href, { waitUntil: "load" });
    return await use(page);
  } finally {
    await browser.close();
  }
}
