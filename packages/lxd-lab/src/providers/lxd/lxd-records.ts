import type { ResourceRecord } from "../../engine/step.js";
import { RecordData } from "../record-data.js";

/** Key in a container's record under which its deploy step keeps the payload hash it deployed. */
export const PAYLOAD_HASH_DATA_KEY = "payloadHash";

/** An "address" record: the static address allocate-addresses took from the lab's pool for one instance. */
export interface LxdAddressRecord {
  ip: string;
  prefix: number;
  gateway: string;
  dns: string[];
}

export function lxdAddressRecord(record: ResourceRecord): LxdAddressRecord {
  const d = new RecordData(record);
  return {
    ip: d.string("ip"),
    prefix: d.integer("prefix", 0, 32),
    gateway: d.string("gateway"),
    dns: d.strings("dns"),
  };
}

/** A "container" record: the instance a launch step created, and the payload hash its deploy step installed. */
export interface LxdContainerRecord {
  payloadHash?: string;
}

export function lxdContainerRecord(record: ResourceRecord): LxdContainerRecord {
  const payloadHash = new RecordData(record).optionalString(PAYLOAD_HASH_DATA_KEY);
  return payloadHash === undefined ? {} : { payloadHash };
}
