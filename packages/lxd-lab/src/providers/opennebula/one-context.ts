import type { TemplateObject } from "@labgate/core";
import type { StepContext } from "../../engine/step.js";
import { buildLbCloudInit } from "../../haproxy/lb-cloud-init.js";
import { haproxyOptionsFromSpec } from "../../haproxy/render-config.js";
import { buildAppCloudInit } from "../../payload/app-cloud-init.js";
import { readSentimentAppFiles } from "../../payload/sentiment-app.js";
import type { OneInstancePlan } from "./one-lab-options.js";
import type { OneLabRuntime } from "./one-lab-runtime.js";

/**
 * The CONTEXT section of the lab's templates and VMs: NETWORK="YES" (the context agent configures the
 * static address), the SSH key, and the cloud-config user data base64-encoded. OpenNebula's context agent
 * only honours `write_files` and `runcmd` of cloud-config, which is all the payload builders emit.
 */
export function oneContext(rt: OneLabRuntime, userData: string): TemplateObject {
  return {
    NETWORK: "YES",
    SET_HOSTNAME: "$NAME",
    SSH_PUBLIC_KEY: rt.options.sshPublicKey ?? "$USER[SSH_PUBLIC_KEY]",
    USER_DATA: Buffer.from(userData, "utf8").toString("base64"),
    USER_DATA_ENCODING: "base64",
  };
}

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
    if (!ip) throw new Error(`no address recorded for ${app.name}; run the one-addresses step first`);
    return { name: app.name, address: ip, port: app.port };
  });
  return buildLbCloudInit(haproxyOptionsFromSpec(ctx.spec, backends));
}
