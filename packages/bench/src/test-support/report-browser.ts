import { existsSync } from "node:fs";
import { pathToFileURL } from "node:url";
import type { Page } from "playwright-core";

const CHROMIUM = process.env["LABGATE_CHROMIUM"] ?? "/usr/bin/chromium";
/** LABGATE_SKIP_BROWSER=1 leaves the browser checks out (the rest of each test still runs). */
export const skipBrowser = process.env["LABGATE_SKIP_BROWSER"] === "1";

/** What the page did while it was open: console errors and warnings, page errors, and every request it tried beyond file:. */
export interface PageWatch {
  problems: string[];
  network: string[];
}

/**
 * Opens report.html in headless Chromium with every request but file: aborted (the report must need no
 * network) and hands the loaded page to `use`, with what the page logged and tried to fetch so far (the lists
 * keep growing while `use` runs); undefined when LABGATE_SKIP_BROWSER=1. A missing Chromium fails.
 */
export async function withReportPage<T>(
  reportHtml: string,
  use: (page: Page, watch: PageWatch) => Promise<T>,
): Promise<T | undefined> {
  if (skipBrowser) return undefined;
  if (!existsSync(CHROMIUM))
    throw new Error(
      `Chromium not found at ${CHROMIUM}: install it (apt-get install chromium) or set LABGATE_CHROMIUM; set LABGATE_SKIP_BROWSER=1 to skip the browser checks deliberately.`,
    );
  const { chromium } = await import("playwright-core");
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
  try {
    const page = await browser.newPage({ viewport: { width: 1000, height: 800 } });
    const watch: PageWatch = { problems: [], network: [] };
    page.on("console", (m) => {
      if (m.type() === "error" || m.type() === "warning") watch.problems.push(`${m.type()}: ${m.text()}`);
    });
    page.on("pageerror", (e) => watch.problems.push(`pageerror: ${e.message}`));
    await page.route("**/*", (route) => {
      const url = route.request().url();
      if (url.startsWith("file:")) return route.continue();
      watch.network.push(url);
      return route.abort();
    });
    await page.goto(pathToFileURL(reportHtml).href, { waitUntil: "load" });
    return await use(page, watch);
  } finally {
    await browser.close();
  }
}
