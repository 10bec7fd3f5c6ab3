import { PlatformApiError } from "../errors.js";
import { isValidIpv4 } from "../ip-pool/ipv4.js";
import { redact } from "../util/redact.js";
import type { HttpResponse } from "./http-json.js";

/**
 * What a platform's answer must look like before anything is built from it. A proxy's HTML login page,
 * a truncated body or a changed API must end in a clear error, never in a request carrying "undefined".
 */
export interface Shape<T> {
  /** For people: "a VMID (integer)", "a task id (UPID:...)". */
  expects: string;
  /** The value when it fits, else undefined. */
  check(value: unknown): T | undefined;
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

export const shapes = {
  /** Anything, null included: the answer carries nothing labgate uses. */
  ignored: { expects: "anything", check: (v: unknown) => v } as Shape<unknown>,
  integerId(expects: string, min = 0): Shape<string> {
    return {
      expects,
      check: (v) => {
        const text = typeof v === "number" && Number.isInteger(v) ? String(v) : v;
        return typeof text === "string" && /^\d{1,12}$/.test(text) && Number(text) >= min ? text : undefined;
      },
    };
  },
  stringMatching(expects: string, pattern: RegExp): Shape<string> {
    return { expects, check: (v) => (typeof v === "string" && pattern.test(v) ? v : undefined) };
  },
  /** An object whose listed keys hold strings (or are absent when optional). */
  record<K extends string>(expects: string, required: readonly K[] = []): Shape<Record<string, unknown>> {
    return {
      expects,
      check: (v) =>
        isRecord(v) && required.every((k) => typeof v[k] === "string" || typeof v[k] === "number")
          ? v
          : undefined,
    };
  },
  arrayOf<T>(item: Shape<T>): Shape<T[]> {
    return {
      expects: `a list of ${item.expects}`,
      check: (v) => {
        if (!Array.isArray(v)) return undefined;
        const out: T[] = [];
        for (const x of v) {
          const checked = item.check(x);
          if (checked === undefined) return undefined;
          out.push(checked);
        }
        return out;
      },
    };
  },
  oneOf<A, B>(a: Shape<A>, b: Shape<B>): Shape<A | B> {
    return {
      expects: `${a.expects} or ${b.expects}`,
      check: (v) => {
        const first = a.check(v);
        return first !== undefined ? first : b.check(v);
      },
    };
  },
  nullish: {
    expects: "null",
    check: (v: unknown) => (v === null || v === undefined ? null : undefined),
  } as Shape<null>,
  /** One of the listed names (a state, a status): anything else is a changed or broken API. */
  oneOfNames<N extends string>(expects: string, names: readonly N[]): Shape<N> {
    return {
      expects,
      check: (v) => (typeof v === "string" && names.includes(v as N) ? (v as N) : undefined),
    };
  },
  /** A dotted IPv4 address (what labgate records and connects to). */
  ipv4: {
    expects: "an IPv4 address",
    check: (v: unknown) => (typeof v === "string" && isValidIpv4(v) ? v : undefined),
  } as Shape<string>,
  /** An optional field: absent (or null) stays undefined, present must fit `inner`. */
  optional<T>(inner: Shape<T>): Shape<T | null> {
    return {
      expects: `${inner.expects} or nothing`,
      check: (v) => (v === undefined || v === null ? null : inner.check(v)),
    };
  },
};

/** PLATFORM_RESPONSE_INVALID (exit 5): the answer does not have the shape the API documents. */
export function invalidResponse(
  platform: string,
  what: string,
  problem: string,
  res?: Pick<HttpResponse, "status" | "headers" | "text">,
  apiExample = "https://pve1:8006",
  /** Replaces the hint for an answer that is not HTML (e.g. LXD's unix socket has no URL to check). */
  otherHint?: string,
): PlatformApiError {
  const type = res ? String(res.headers["content-type"] ?? "no content type") : undefined;
  const looksLikeHtml = res ? /<html|<!doctype/i.test(res.text) || /html/.test(type ?? "") : false;
  return new PlatformApiError(
    platform,
    "PLATFORM_RESPONSE_INVALID",
    `${platform}: the answer to ${what} is not what the API returns (${problem}); nothing was built from it.`,
    {
      ...(res ? { status: res.status } : {}),
      hint: looksLikeHtml
        ? `An HTML page came back: the URL probably points at a proxy or login page, not the API. Use the API's own address (e.g. ${apiExample}).`
        : (otherHint ??
          "Check that the URL points at the platform's API (not a proxy) and that its version is supported; the start of the answer is in the details."),
      details: {
        ...(res ? { status: res.status, contentType: type, bodyStart: redact(res.text.slice(0, 200)) } : {}),
      },
    },
  );
}

/** Describes a value briefly for an error: its type and a redacted start. */
export function describeValue(value: unknown): string {
  if (value === undefined) return "nothing";
  if (value === null) return "null";
  const text = typeof value === "string" ? JSON.stringify(value) : (JSON.stringify(value) ?? String(value));
  return `${Array.isArray(value) ? "a list" : typeof value} ${redact(text.length > 80 ? `${text.slice(0, 77)}...` : text)}`;
}

/** Unwraps a `{data: ...}` envelope (Proxmox) and checks the payload against its shape. */
export function checkEnvelope<T>(platform: string, res: HttpResponse, what: string, shape: Shape<T>): T {
  const body = res.body;
  if (!isRecord(body) || !("data" in body)) {
    const problem =
      typeof body === "string"
        ? body.trim() === ""
          ? "an empty body"
          : `a non-JSON body (${String(res.headers["content-type"] ?? "no content type")})`
        : `JSON without the "data" envelope: ${describeValue(body)}`;
    throw invalidResponse(platform, what, problem, res);
  }
  const value = shape.check(body.data);
  if (value === undefined)
    throw invalidResponse(platform, what, `expected ${shape.expects}, got ${describeValue(body.data)}`, res);
  return value;
}

/** Whether an HTTP answer carried JSON that parsed (HttpJsonClient keeps the text when it does not). */
function parsedJson(res: HttpResponse): boolean {
  const type = String(res.headers["content-type"] ?? "");
  return (
    /json/.test(type) && res.text.trim() !== "" && !(typeof res.body === "string" && res.body === res.text)
  );
}

/** Checks a plain JSON answer (vSphere REST, VI/JSON) against its shape; non-JSON and empty bodies are named as such. */
export function checkJsonBody<T>(
  platform: string,
  res: HttpResponse,
  what: string,
  shape: Shape<T>,
  apiExample?: string,
): T {
  if (shape === shapes.ignored) return res.body as T;
  if (!parsedJson(res)) {
    const problem =
      res.text.trim() === ""
        ? "an empty body"
        : `a non-JSON body (${String(res.headers["content-type"] ?? "no content type")})`;
    throw invalidResponse(platform, what, problem, res, apiExample);
  }
  const value = shape.check(res.body);
  if (value === undefined)
    throw invalidResponse(
      platform,
      what,
      `expected ${shape.expects}, got ${describeValue(res.body)}`,
      res,
      apiExample,
    );
  return value;
}

/**
 * Checks one field an SDK handed back (AWS, Azure: the SDK parsed HTTP, but the field may still be
 * missing or of another type) before anything is built from it.
 */
export function checkField<T>(
  platform: string,
  what: string,
  field: string,
  value: unknown,
  shape: Shape<T>,
): T {
  const checked = shape.check(value);
  if (checked === undefined)
    throw new PlatformApiError(
      platform,
      "PLATFORM_RESPONSE_INVALID",
      `${platform}: the answer to ${what} is not what the API returns (${field}: expected ${shape.expects}, got ${describeValue(value)}); nothing was built from it.`,
      {
        hint:
          typeof value === "string" && /<html|<!doctype/i.test(value)
            ? "An HTML page came back: the endpoint probably points at a proxy or login page, not the API. Use the API's own endpoint."
            : "Check that the endpoint is the platform's API (not a proxy or an emulator with another API version) and that the SDK is a supported version.",
        details: { field, got: describeValue(value) },
      },
    );
  return checked;
}
