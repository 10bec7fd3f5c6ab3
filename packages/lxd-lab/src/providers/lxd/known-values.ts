import type { IpAllocation } from "@labgate/core";
import type { ResourceRecord } from "../../engine/step.js";

/** Key in a container's record under which its deploy step keeps the payload hash it deployed. */
export const PAYLOAD_HASH_DATA_KEY = "payloadHash";

/** The address the allocate step recorded for an instance, if it has run. */
export function knownAddress(known: ResourceRecord[], instance: string): IpAllocation | undefined {
  const data = known.find((r) => r.kind === "address" && r.id === instance)?.data as IpAllocation | undefined;
  return data?.ip ? data : undefined;
}

export function knownPayloadHash(known: ResourceRecord[], instance: string): string | undefined {
  const hash = known.find((r) => r.kind === "container" && r.id === instance)?.data?.[PAYLOAD_HASH_DATA_KEY];
  return typeof hash === "string" ? hash : undefined;
}

/**
 * Plan lines with the values the lab state already holds: `<NAME address>` and `server NAME
 * <address>` become the instance's address, `"<hash>"` the payload hash deployed to `instance`.
 */
export function fillKnown(commands: string[], known: ResourceRecord[], instance?: string): string[] {
  const hash = instance ? knownPayloadHash(known, instance) : undefined;
  return commands.map((line) =>
    line
      .replace(/<([a-z0-9-]+) address>/g, (all, name: string) => knownAddress(known, name)?.ip ?? all)
      .replace(/server ([a-z0-9-]+) <address>/g, (all, name: string) => {
        const ip = knownAddress(known, name)?.ip;
        return ip ? `server ${name} ${ip}` : all;
      })
      .replace(/"<hash>"/g, (all) => (hash ? `"${hash}"` : all)),
  );
}
