import type { ResourceRecord } from "../../engine/step.js";
import { RecordData } from "../record-data.js";

/** An "ip" record (id: the address): what one-addresses took from the IP pool for one VM. */
export interface OneIpRecord {
  /** The VM's short name in the lab ("app1", "lb"). */
  name: string;
  ip: string;
  /** The pool owner it was allocated to, as written then (older labs: `lab:<lab>:<vm>`). */
  owner?: string;
  netmask: string;
  gateway: string;
  dns: string[];
}

export function oneIpRecord(record: ResourceRecord): OneIpRecord {
  const d = new RecordData(record);
  const owner = d.optionalString("owner");
  return {
    name: d.string("name"),
    ip: d.string("ip"),
    ...(owner === undefined ? {} : { owner }),
    netmask: d.optionalString("netmask") ?? "",
    gateway: d.optionalString("gateway") ?? "",
    dns: record.data?.dns === undefined ? [] : d.strings("dns"),
  };
}

/** A "one-expose" record: how the LB was exposed, and route_localnet as it was before (to put it back). */
export interface OneExposeRecord {
  localnetDevice?: string;
  localnetWas?: string;
}

export function oneExposeRecord(record: ResourceRecord): OneExposeRecord {
  const d = new RecordData(record);
  const localnetDevice = d.optionalString("localnetDevice");
  const localnetWas = d.optionalString("localnetWas");
  return {
    ...(localnetDevice === undefined ? {} : { localnetDevice }),
    ...(localnetWas === undefined ? {} : { localnetWas }),
  };
}
