import type { TemplateObject } from "@labgate/core";
import { StateError } from "@labgate/core";
import type { StepContext } from "../../engine/step.js";
import { buildLbCloudInit } from "../../haproxy/lb-cloud-init.js";
import { haproxyOptionsFromSpec } from "../../haproxy/render-config.js";
import { buildAppCloudInit } from "../../payload/app-cloud-init.js";
import { readSentimentAppFiles } from "../../payload/sentiment-app.js";
import type { OneInstancePlan } from "./one-lab-options.js";
import type { OneLabRuntime } from "./one-lab-runtime.js";
import { cloudConfigToStartScript } from "./start-script.js";

/**
 * The CONTEXT section of the lab's templates and VMs: NETWORK="YES" (oned regenerates ETH0_IP/MASK/GATEWAY/DNS
 * from the NIC, its address range and the vnet, src/vm/VirtualMachineContext.cc, so those live on the vnet), the
 * SSH key, and the payload as START_SCRIPT_BASE64, which every context package version runs (start-script.ts).
 */
export function oneContext(rt: OneLabRuntime, userData: string): TemplateObject {
  return {
    NETWORK: "YES",
    SET_HOSTNAME: "$NAME",
    SSH_PUBLIC_KEY: rt.options.sshPublicKey ?? "$USER[SSH_PUBLIC_KEY]",
    START_SCRIPT_BASE64: Buffer.from(cloudConfigToStartScript(userData), "utf8").toString("base64"),
  };
}

/** How the payload reaches the guests, for the steps to tell the user. */
export const PAYLOAD_DELIVERY =
  "START_SCRIPT_BASE64 (run by every OpenNebula context package: addon-context-linux on 6.8 images, one-apps on 6.10+; USER_DATA cloud-config is ignored before one-context 6.10.0-3)";

/** The cloud-config of one VM: the sentiment app with its name and port, or HAProxy over the apps' addresses. */
export async function userDataFor(
  rt: OneLabRuntime,
  ctx: StepContext,
  inst: OneInstancePlan,
): Promise<string> {
  if (inst.role === "app") {
    const files = await (rt.deps.payloadFiles ?? readSentimentAppFiles)();
    return buildAppCloudInit({ name: inst.name, port: inst.port, files });
  }
  const addresses = rt.addresses(ctx);
  const backends = rt.options.apps.map((app) => {
    const ip = addresses.get(app.name)?.ip;
    if (!ip)
      throw new StateError("ONE_ADDRESS_MISSING", `No address is recorded for ${app.name}.`, {
        hint: "Run `labgate lab up` from the one-addresses step (`--from one-addresses`).",
      });
    return { name: app.name, address: ip, port: app.port };
  });
  return buildLbCloudInit(haproxyOptionsFromSpec(ctx.spec, backends));
}
