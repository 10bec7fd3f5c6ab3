import { OpenNebulaError, toTemplateXml, waitForImageReady } from "@labgate/core";
import type { Step } from "../../engine/step.js";
import type { OneLabRuntime } from "./one-lab-runtime.js";

/** The image the VMs boot: an existing image by name, or `ubuntu:22.04` registered from its LXD source. */
export function imageStep(rt: OneLabRuntime): Step {
  const o = rt.options;
  return {
    id: "one-image",
    title: `Make sure image ${o.imageName} is READY`,
    why: `Every VM boots from an OpenNebula image in datastore ${o.datastoreId}. If an image named ${o.imageName} exists it is used as is; otherwise labgate registers it from ${o.imagePath} and waits until OpenNebula has copied it into the datastore (LOCKED → READY).`,
    commands: [
      `one.imagepool.info(-2, -1, -1)  # find ${o.imageName}`,
      `one.image.allocate(<TEMPLATE NAME=${o.imageName} PATH=${o.imagePath} TYPE=OS>, ${o.datastoreId})  # only if missing`,
    ],
    async check(ctx) {
      const image = await rt.client(ctx).findImage(o.imageName);
      if (!image) return { done: false, detail: `no image named ${o.imageName}` };
      const ready = ["READY", "USED", "USED_PERS"].includes(image.stateName);
      return { done: ready, detail: `${o.imageName} (ID ${image.id}) is ${image.stateName}` };
    },
    async apply(ctx) {
      const client = rt.client(ctx);
      const existing = await client.findImage(o.imageName);
      let id = existing?.id;
      if (id === undefined) {
        id = await client.imageAllocate(
          toTemplateXml({
            NAME: o.imageName,
            PATH: o.imagePath,
            TYPE: "OS",
            DESCRIPTION: `labgate lab ${o.lab}`,
          }),
          o.datastoreId,
        );
        await ctx.record({
          kind: "one-image",
          id: String(id),
          stepId: "one-image",
          data: { name: o.imageName, created: true },
        });
      }
      await waitForImageReady(client, id, rt.waitOptions(ctx, `image ${o.imageName}`));
    },
    async verify(ctx) {
      const image = await rt.client(ctx).findImage(o.imageName);
      if (!image || !["READY", "USED", "USED_PERS"].includes(image.stateName)) {
        throw new Error(`image ${o.imageName} is ${image ? image.stateName : "missing"}`);
      }
    },
    async undo(ctx) {
      const client = rt.client(ctx);
      // Only an image this lab registered is deleted; a pre-existing one was never recorded.
      for (const r of ctx.resources("one-image")) {
        await client.imageDelete(Number(r.id)).catch((e: unknown) => {
          if (!(e instanceof OpenNebulaError && e.code === "ONE_NOT_FOUND")) throw e;
        });
        await ctx.forget("one-image", r.id);
      }
    },
    diagnostics: [`oneimage show ${o.imageName}`, `onedatastore show ${o.datastoreId}`],
  };
}
