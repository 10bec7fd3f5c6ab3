import {
  exportMarketAppImage,
  findMarketApp,
  type OneMarketApp,
  type OpenNebulaClient,
  OpenNebulaError,
  toTemplateXml,
  waitForImageReady,
} from "@labgate/core";
import type { StepCall } from "../../engine/plan-step.js";
import type { LabStep, StepContext } from "../../engine/step.js";
import type { OneLabRuntime } from "./one-lab-runtime.js";

/** Marketplace app names are "<distro>_<version> - LXD" (6.8) or "… - LXC" (6.10+); match the prefix. */
function appPattern(app: string): RegExp {
  return new RegExp(`^${app.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}(\\s|$)`);
}

async function marketApp(rt: OneLabRuntime, client: OpenNebulaClient, app: string): Promise<OneMarketApp> {
  const found = await findMarketApp(client, appPattern(app));
  if (!found) {
    throw new OpenNebulaError(
      "ONE_MARKETAPP_MISSING",
      `No READY image app named ${app} in OpenNebula's marketplaces (the Linux Containers marketplace lists them as "${app} - LXD" or "${app} - LXC").`,
      {
        hint: `List them with \`onemarketapp list | grep -i ${app}\`; enable the Linux Containers marketplace (\`onemarket enable\`) or set providerOptions.marketApp / imagePath (a complete lxd://…/rootfs.tar.xz?size=N URL).`,
        details: { marketApp: app, image: rt.options.imageName },
      },
    );
  }
  return found;
}

/** The image the VMs boot: an existing image by name, else exported from the marketplace (or a given PATH). */
export function imageStep(rt: OneLabRuntime): LabStep<{ imageId?: number }> {
  const o = rt.options;
  const source = o.imageSource;
  const from =
    source.kind === "market"
      ? `the Linux Containers marketplace app ${source.app} (exported the way Sunstone does: one.image.allocate with FROM_APP, so OpenNebula takes the app's complete rootfs.tar.xz?size=… URL)`
      : source.path;
  const xmlrpc = (display: string): StepCall => ({ display, kind: "xmlrpc" });
  return {
    description: {
      id: "one-image",
      title: `Make sure image ${o.imageName} is READY`,
      why: `Every VM boots from an OpenNebula image in datastore ${o.datastoreId}. If an image named ${o.imageName} exists it is used as is; otherwise labgate creates it from ${from} and waits until the datastore has downloaded it (LOCKED → READY).`,
      calls: [
        `one.imagepool.info(-2, -1, -1)  # find ${o.imageName}`,
        ...(source.kind === "market"
          ? [
              `one.marketapppool.info(-2, -1, -1)  # find "${source.app} - LX*"`,
              `one.image.allocate(<TEMPLATE NAME=${o.imageName} FROM_APP=<app id> …app template>, ${o.datastoreId})  # only if missing; = onemarketapp export`,
            ]
          : [pathImageAllocation(rt, source.path).display]),
      ].map(xmlrpc),
      undoCalls: [xmlrpc("one.image.delete(ID)  # only an image this lab registered")],
      diagnostics: [
        `oneimage show ${o.imageName}`,
        `onedatastore show ${o.datastoreId}`,
        "onemarketapp list",
      ],
    },
    actions: {
      async check(ctx) {
        const image = await rt.client(ctx).findImage(o.imageName);
        if (!image) return { done: false, detail: `no image named ${o.imageName}`, facts: {} };
        const ready = ["READY", "USED", "USED_PERS"].includes(image.stateName);
        return {
          done: ready,
          detail: `${o.imageName} (ID ${image.id}) is ${image.stateName}`,
          facts: { imageId: image.id },
        };
      },
      async apply(ctx, found) {
        const client = rt.client(ctx);
        let id = found.facts.imageId;
        if (id === undefined) {
          id = await createImage(rt, ctx, client);
          await ctx.record({
            kind: "one-image",
            id: String(id),
            stepId: "one-image",
            data: {
              name: o.imageName,
              created: true,
              source: source.kind === "market" ? source.app : source.path,
            },
          });
        }
        await waitForImageReady(client, id, rt.waitOptions(ctx, `image ${o.imageName}`));
      },
      async verify(ctx) {
        const image = await rt.client(ctx).findImage(o.imageName);
        if (!image || !["READY", "USED", "USED_PERS"].includes(image.stateName)) {
          throw new OpenNebulaError(
            "ONE_IMAGE_NOT_READY",
            `Image ${o.imageName} is ${image ? image.stateName : "missing"}, not READY.`,
            {
              hint: `Check it with \`oneimage show ${o.imageName}\` (an ERROR image says why); then run \`labgate lab up\` again.`,
            },
          );
        }
      },
      async undo(ctx) {
        const client = rt.client(ctx);
        // Only an image this lab registered is deleted; a pre-existing one was never recorded. The VM steps were
        // undone first and waited for DONE, so no VM holds it any more (oned refuses "There are N VMs using it").
        for (const r of ctx.resources("one-image")) {
          await client.imageDelete(Number(r.id)).catch((e: unknown) => {
            if (!(e instanceof OpenNebulaError && e.code === "ONE_NOT_FOUND")) throw e;
          });
          await ctx.forget("one-image", r.id);
        }
      },
    },
  };
}

/** one.image.allocate(template, datastore) of an image from a PATH: what the plan shows and what apply sends. */
function pathImageAllocation(rt: OneLabRuntime, path: string) {
  const o = rt.options;
  const image = { NAME: o.imageName, PATH: path, TYPE: "OS" };
  const template = toTemplateXml({ ...image, DESCRIPTION: `labgate lab ${o.lab}` });
  return {
    display: `one.image.allocate(<TEMPLATE NAME=${image.NAME} PATH=${image.PATH} TYPE=${image.TYPE}>, ${o.datastoreId})  # only if missing`,
    params: [template, o.datastoreId] as const,
  };
}

async function createImage(rt: OneLabRuntime, ctx: StepContext, client: OpenNebulaClient): Promise<number> {
  const o = rt.options;
  const source = o.imageSource;
  const description = `labgate lab ${o.lab}`;
  if (source.kind === "path") {
    const [template, datastore] = pathImageAllocation(rt, source.path).params;
    return client.imageAllocate(template, datastore);
  }
  const app = await marketApp(rt, client, source.app);
  ctx.log(
    `  exporting marketplace app "${app.name}" (ID ${app.id}, ${app.marketplace}) as image ${o.imageName}`,
  );
  return exportMarketAppImage(client, app, {
    name: o.imageName,
    datastoreId: o.datastoreId,
    extra: { DESCRIPTION: description },
  });
}
