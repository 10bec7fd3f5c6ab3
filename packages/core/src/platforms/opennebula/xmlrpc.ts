import { XMLParser } from "fast-xml-parser";
import { escapeXml } from "../../util/escape-xml.js";

/**
 * A minimal, strict XML-RPC codec: exactly what OpenNebula's API uses (string, int, boolean,
 * double, array, struct). Encoding is hand-written so every byte sent is predictable; decoding
 * goes through fast-xml-parser so real-world responses (whitespace, entities, untyped values)
 * are handled by a real XML parser.
 */
export type XmlRpcValue = string | number | boolean | XmlRpcValue[] | { [key: string]: XmlRpcValue };

/** An `int` param must be sent as <int>, a `double` as <double>: JavaScript numbers need the hint. */
export class XmlRpcDouble {
  constructor(readonly value: number) {}
}

export type XmlRpcParam = XmlRpcValue | XmlRpcDouble;

export { escapeXml };

export function encodeValue(value: XmlRpcParam): string {
  if (value instanceof XmlRpcDouble) return `<value><double>${value.value}</double></value>`;
  if (typeof value === "string") return `<value><string>${escapeXml(value)}</string></value>`;
  if (typeof value === "boolean") return `<value><boolean>${value ? 1 : 0}</boolean></value>`;
  if (typeof value === "number") {
    if (!Number.isInteger(value)) return `<value><double>${value}</double></value>`;
    if (value > 2147483647 || value < -2147483648) throw new RangeError(`XML-RPC int out of range: ${value}`);
    return `<value><int>${value}</int></value>`;
  }
  if (Array.isArray(value))
    return `<value><array><data>${value.map(encodeValue).join("")}</data></array></value>`;
  const members = Object.entries(value)
    .map(([name, inner]) => `<member><name>${escapeXml(name)}</name>${encodeValue(inner)}</member>`)
    .join("");
  return `<value><struct>${members}</struct></value>`;
}

export function encodeMethodCall(method: string, params: readonly XmlRpcParam[]): string {
  const body = params.map((p) => `<param>${encodeValue(p)}</param>`).join("");
  return `<?xml version="1.0" encoding="UTF-8"?>\n<methodCall><methodName>${escapeXml(method)}</methodName><params>${body}</params></methodCall>`;
}

export function encodeMethodResponse(value: XmlRpcValue): string {
  return `<?xml version="1.0" encoding="UTF-8"?>\n<methodResponse><params><param>${encodeValue(value)}</param></params></methodResponse>`;
}

export function encodeFault(code: number, message: string): string {
  return `<?xml version="1.0" encoding="UTF-8"?>\n<methodResponse><fault>${encodeValue({ faultCode: code, faultString: message })}</fault></methodResponse>`;
}

export class XmlRpcParseError extends Error {}

export interface XmlRpcFault {
  faultCode: number;
  faultString: string;
}

export type DecodedResponse = { ok: true; value: XmlRpcValue } | { ok: false; fault: XmlRpcFault };

const parser = new XMLParser({
  ignoreAttributes: true,
  parseTagValue: false,
  trimValues: true,
  processEntities: true,
  ignoreDeclaration: true,
  isArray: (name) => name === "value" || name === "member" || name === "param",
});

type Node = Record<string, unknown>;

function asNode(x: unknown, what: string): Node {
  if (x && typeof x === "object" && !Array.isArray(x)) return x as Node;
  throw new XmlRpcParseError(`malformed XML-RPC: expected <${what}>`);
}

function text(x: unknown): string {
  if (x === undefined || x === null) return "";
  if (typeof x === "string") return x;
  if (typeof x === "number" || typeof x === "boolean") return String(x);
  throw new XmlRpcParseError("malformed XML-RPC: expected text");
}

export function decodeValue(raw: unknown): XmlRpcValue {
  // <value>text</value> without a type element is a string by the spec.
  if (raw === undefined || raw === null || typeof raw === "string") return text(raw);
  const node = asNode(raw, "value");
  const keys = Object.keys(node);
  if (keys.length !== 1)
    throw new XmlRpcParseError(`malformed XML-RPC value with ${keys.join(",") || "no"} types`);
  const type = keys[0]!;
  const inner = node[type];
  switch (type) {
    case "string":
      return text(inner);
    case "int":
    case "i4":
    case "i8": {
      const n = Number.parseInt(text(inner), 10);
      if (!Number.isFinite(n)) throw new XmlRpcParseError(`malformed XML-RPC ${type}: ${text(inner)}`);
      return n;
    }
    case "double": {
      const n = Number.parseFloat(text(inner));
      if (Number.isNaN(n)) throw new XmlRpcParseError(`malformed XML-RPC double: ${text(inner)}`);
      return n;
    }
    case "boolean": {
      const t = text(inner);
      if (t !== "0" && t !== "1") throw new XmlRpcParseError(`malformed XML-RPC boolean: ${t}`);
      return t === "1";
    }
    case "array": {
      const data = inner === "" ? "" : asNode(inner, "array").data;
      const values =
        data === undefined || data === "" ? [] : ((asNode(data, "data").value as unknown[]) ?? []);
      return values.map(decodeValue);
    }
    case "struct": {
      const members = inner === "" ? [] : ((asNode(inner, "struct").member as unknown[] | undefined) ?? []);
      const out: Record<string, XmlRpcValue> = {};
      for (const m of members) {
        const member = asNode(m, "member");
        const values = member.value as unknown[] | undefined;
        out[text(member.name)] = decodeValue(values?.[0]);
      }
      return out;
    }
    case "nil":
      return "";
    default:
      throw new XmlRpcParseError(`unsupported XML-RPC type <${type}>`);
  }
}

const NAMED: Record<string, string> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  '"': "&quot;",
  "'": "&apos;",
};

/**
 * fast-xml-parser decodes only the five named entities, so "couldn&#x27;t" would reach people as is.
 * Numeric character references (XML 1.0 §4.1) are turned into their characters before parsing, the
 * markup-significant ones into the named entity the parser then decodes once; CDATA is left alone.
 * A reference to a character XML does not allow (&#0;, a surrogate, past U+10FFFF) is not well-formed.
 */
export function decodeCharacterReferences(xml: string): string {
  return xml
    .split(/(<!\[CDATA\[[\s\S]*?\]\]>)/)
    .map((part, i) =>
      i % 2 === 1
        ? part
        : part.replace(/&#(x[0-9A-Fa-f]+|[0-9]+);/g, (ref, num: string) => {
            const code = num.startsWith("x") ? Number.parseInt(num.slice(1), 16) : Number.parseInt(num, 10);
            const allowed =
              code === 0x9 ||
              code === 0xa ||
              code === 0xd ||
              (code >= 0x20 && code <= 0xd7ff) ||
              (code >= 0xe000 && code <= 0xfffd) ||
              (code >= 0x10000 && code <= 0x10ffff);
            if (!allowed) throw new XmlRpcParseError(`not well-formed XML: character reference ${ref}`);
            const char = String.fromCodePoint(code);
            return NAMED[char] ?? char;
          }),
    )
    .join("");
}

function parse(xml: string): Node {
  try {
    return asNode(parser.parse(decodeCharacterReferences(xml), true), "document");
  } catch (error) {
    if (error instanceof XmlRpcParseError) throw error;
    throw new XmlRpcParseError(`not well-formed XML: ${(error as Error).message}`);
  }
}

export function decodeMethodResponse(xml: string): DecodedResponse {
  const root = asNode(parse(xml).methodResponse, "methodResponse");
  if (root.fault !== undefined) {
    const fault = decodeValue((asNode(root.fault, "fault").value as unknown[])[0]);
    if (typeof fault !== "object" || Array.isArray(fault))
      throw new XmlRpcParseError("malformed XML-RPC fault");
    return {
      ok: false,
      fault: { faultCode: Number(fault.faultCode ?? 0), faultString: String(fault.faultString ?? "") },
    };
  }
  const params = asNode(root.params, "params").param as unknown[] | undefined;
  const first = params?.[0];
  if (!first) throw new XmlRpcParseError("XML-RPC response without a value");
  return { ok: true, value: decodeValue((asNode(first, "param").value as unknown[])[0]) };
}

export interface DecodedCall {
  method: string;
  params: XmlRpcValue[];
}

export function decodeMethodCall(xml: string): DecodedCall {
  const root = asNode(parse(xml).methodCall, "methodCall");
  const method = text(root.methodName);
  if (!method) throw new XmlRpcParseError("XML-RPC call without methodName");
  const params =
    root.params === undefined || root.params === ""
      ? []
      : ((asNode(root.params, "params").param as unknown[] | undefined) ?? []);
  return { method, params: params.map((p) => decodeValue((asNode(p, "param").value as unknown[])[0])) };
}
