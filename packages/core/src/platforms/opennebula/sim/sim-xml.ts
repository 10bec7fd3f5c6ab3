import { XMLParser } from "fast-xml-parser";
import { parseIpv4 } from "../../../ip-pool/ipv4.js";
import { OneErrorCode } from "../one-errors.js";

/** XML and address helpers of the simulator: templates in and out, as oned parses and prints them. */

/** A failed call: `[false, message, code]` as src/rm/Request.cc failure_response() builds it. */
export class ApiError extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

const templateParser = new XMLParser({
  ignoreAttributes: true,
  parseTagValue: false,
  trimValues: true,
  isArray: (name, jpath) => String(jpath).split(".").length === 2 && ["NIC", "AR", "DISK"].includes(name),
});

export function parseTemplate(text: string): Record<string, unknown> {
  if (!text.trim().startsWith("<")) {
    throw new ApiError(
      OneErrorCode.XML_RPC_API,
      "Simulator accepts XML templates only (<TEMPLATE>...</TEMPLATE>)",
    );
  }
  let doc: Record<string, unknown>;
  try {
    doc = templateParser.parse(text, true) as Record<string, unknown>;
  } catch (error) {
    throw new ApiError(OneErrorCode.INTERNAL, `Parse error: ${(error as Error).message}`);
  }
  const t = doc.TEMPLATE;
  if (t === "") return {};
  if (!t || typeof t !== "object")
    throw new ApiError(OneErrorCode.INTERNAL, "Parse error: root element must be TEMPLATE");
  return t as Record<string, unknown>;
}

/** OpenNebula writes template values as CDATA; so do we, so clients must cope with it. */
export function cdata(value: string): string {
  return `<![CDATA[${value.replace(/]]>/g, "]]]]><![CDATA[>")}]]>`;
}

export function templateXml(obj: Record<string, unknown>, root = "TEMPLATE"): string {
  const parts: string[] = [];
  for (const [key, value] of Object.entries(obj)) {
    const values = Array.isArray(value) ? value : [value];
    for (const v of values) {
      parts.push(
        v && typeof v === "object"
          ? templateXml(v as Record<string, unknown>, key)
          : `<${key}>${cdata(String(v ?? ""))}</${key}>`,
      );
    }
  }
  return `<${root}>${parts.join("")}</${root}>`;
}

export function str(obj: Record<string, unknown>, key: string): string {
  const v = obj[key];
  return typeof v === "string" ? v : "";
}

export function macFor(ip: string): string {
  const n = parseIpv4(ip);
  return `02:00:${[n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].map((b) => b.toString(16).padStart(2, "0")).join(":")}`;
}

/** What one.vmpool.info keeps of a VM's TEMPLATE. */
export const SHORT_VM_TEMPLATE = new Set(["CPU", "VCPU", "MEMORY", "DISK", "NIC", "NIC_ALIAS", "GRAPHICS"]);

export const PERMISSIONS =
  "<PERMISSIONS><OWNER_U>1</OWNER_U><OWNER_M>1</OWNER_M><OWNER_A>0</OWNER_A><GROUP_U>0</GROUP_U><GROUP_M>0</GROUP_M><GROUP_A>0</GROUP_A><OTHER_U>0</OTHER_U><OTHER_M>0</OTHER_M><OTHER_A>0</OTHER_A></PERMISSIONS>";
export const OWNER = "<UID>0</UID><GID>0</GID><UNAME>oneadmin</UNAME><GNAME>oneadmin</GNAME>";
