import type { ResourceRecord } from "../../engine/step.js";
import { type LxdAddressRecord, lxdAddressRecord, lxdContainerRecord } from "./lxd-records.js";

export { PAYLOAD_HASH_DATA_KEY } from "./lxd-records.js";

/** The address the allocate step recorded for an instance, if it has run. */
export function knownAddress(known: ResourceRecord[], instance: string): LxdAddressRecord | undefined {
  const record = known.find((r) => r.kind === "address" && r.id === instance);
  return record ? lxdAddressRecord(record) : undefined;
}

export function knownPayloadHash(known: ResourceRecord[], instance: string): string | undefined {
  const record = known.find((r) => r.kind === "container" && r.id === instance);
  return record ? lxdContainerRecord(record).payloadHash : undefined;
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
