import { OpenNebulaError } from "../../errors.js";
import { ExitCode } from "../../exit-codes.js";
import type { OpenNebulaClient } from "./client.js";
import type { OneMarketApp } from "./documents.js";
import { type TemplateObject, toTemplateXml } from "./template-xml.js";

/**
 * Exporting a marketplace app to an image, as `onemarketapp export` and Sunstone do. There is no
 * `one.marketapp.export` XML-RPC method: the export is client-side (src/oca/ruby/opennebula/marketplaceapp_ext.rb
 * export_image): it reads the app, then calls one.image.allocate with the app's image template plus
 * NAME and FROM_APP=<app id>; oned fills PATH from the app's SOURCE (RequestManagerAllocate.cc ImageAllocate).
 */

/** `KEY = "value"` lines of an app template (vector attributes `KEY = [ … ]` are kept out: apps carry none we need). */
export function parseSimpleTemplate(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split(/\r?\n/)) {
    const m = /^\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^[\s][^\n]*?))\s*$/.exec(line);
    if (m) out[m[1]!.toUpperCase()] = (m[2] ?? m[3] ?? "").replace(/\\"/g, '"');
  }
  return out;
}

/** Finds a READY image app whose name matches, in the given marketplace (by name) or in any. */
export async function findMarketApp(
  client: OpenNebulaClient,
  match: RegExp,
  marketplace?: string,
): Promise<OneMarketApp | undefined> {
  const apps = await client.marketAppPool();
  return apps.find(
    (a) =>
      a.type === 1 && a.state === 1 && match.test(a.name) && (!marketplace || a.marketplace === marketplace),
  );
}

/** The one.image.allocate template the export sends (pure, so a plan can print it). */
export function marketImageTemplate(
  app: OneMarketApp,
  name: string,
  extra: TemplateObject = {},
): TemplateObject {
  const base: TemplateObject = {};
  for (const [k, v] of Object.entries(parseSimpleTemplate(app.appTemplate))) base[k] = v;
  return { ...base, ...extra, NAME: name, FROM_APP: String(app.id) };
}

export async function exportMarketAppImage(
  client: OpenNebulaClient,
  app: OneMarketApp,
  options: { name: string; datastoreId: number; extra?: TemplateObject },
): Promise<number> {
  if (app.state !== 1) {
    throw new OpenNebulaError(
      "ONE_MARKETAPP_NOT_READY",
      `Marketplace app ${app.name} (ID ${app.id}) is not READY.`,
      {
        exitCode: ExitCode.EXTERNAL,
        hint: `Check it with \`onemarketapp show ${app.id}\`; the marketplace monitor may still be refreshing it.`,
      },
    );
  }
  return client.imageAllocate(
    toTemplateXml(marketImageTemplate(app, options.name, options.extra)),
    options.datastoreId,
  );
}

/** The app's SCHED_REQUIREMENTS (its VM template pins containers to container hosts), if any. */
export function marketSchedRequirements(app: OneMarketApp): string | undefined {
  return parseSimpleTemplate(app.vmTemplate).SCHED_REQUIREMENTS || undefined;
}
