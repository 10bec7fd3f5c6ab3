import { randomUUID } from "node:crypto";
import { PreconditionError } from "../errors.js";
import { INTENT_KEY, type NodeRef } from "./types.js";

/**
 * A fresh claim for one apply: recorded in the intent before the create call and stamped on what the
 * call makes (EC2 tag and ClientToken, Azure tag, OpenNebula template attribute, vSphere extraConfig).
 */
export function newClaim(): string {
  return randomUUID();
}

export function claimOf(ref: NodeRef): string | undefined {
  return ref.location?.[INTENT_KEY] || undefined;
}

/**
 * A node of the name exists and this apply did not make it: labgate neither adopts nor replaces it
 * (someone else's VM, or one deployed from another state dir).
 */
export function nameTakenError(platform: string, name: string, found: NodeRef[]): PreconditionError {
  const ids = found.map((r) => r.id).join(", ");
  return new PreconditionError(
    "DEPLOY_NAME_TAKEN",
    `${platform} already has a node named ${name} (${ids}) that this deployment did not create; labgate neither adopts nor removes it.`,
    {
      hint: `Deploy under another name, or remove ${ids} on ${platform} yourself if it is really unused.`,
    },
  );
}
