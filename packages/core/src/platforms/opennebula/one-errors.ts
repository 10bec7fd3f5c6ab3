import { type OpenNebulaCode, OpenNebulaError } from "../../errors.js";
import { redact } from "../../util/redact.js";

/** OpenNebula's error codes (the third element of every response array). */
export const OneErrorCode = {
  SUCCESS: 0x0000,
  AUTHENTICATION: 0x0100,
  AUTHORIZATION: 0x0200,
  NO_EXISTS: 0x0400,
  ACTION: 0x0800,
  XML_RPC_API: 0x1000,
  INTERNAL: 0x2000,
  ALLOCATE: 0x4000,
  LOCKED: 0x8000,
} as const;

export function oneErrorCodeName(code: number): string {
  const entry = Object.entries(OneErrorCode).find(([, value]) => value === code);
  return entry ? entry[0] : `0x${code.toString(16).padStart(4, "0")}`;
}

/** The exit code is the code's own (OpenNebulaError.codes). */
interface Mapped {
  code: OpenNebulaCode;
  hint: string;
}

const MAPPING: Record<number, Mapped> = {
  [OneErrorCode.AUTHENTICATION]: {
    code: "ONE_AUTH_FAILED",
    hint: "OpenNebula rejected the credentials: check the user and password (or token) in ONE_SESSION / ONE_AUTH, e.g. with `oneuser show` on the front-end.",
  },
  [OneErrorCode.AUTHORIZATION]: {
    code: "ONE_NOT_AUTHORIZED",
    hint: "The user lacks the permission for this call: use a user of the oneadmin group or ask for the ACL (`oneacl list`).",
  },
  [OneErrorCode.NO_EXISTS]: {
    code: "ONE_NOT_FOUND",
    hint: "The resource no longer exists in OpenNebula; re-run `labgate lab up` to recreate it.",
  },
  [OneErrorCode.ACTION]: {
    code: "ONE_WRONG_STATE",
    hint: "The resource is in a state where this action is not allowed; check it with `onevm show` / `onehost show`.",
  },
  [OneErrorCode.XML_RPC_API]: {
    code: "ONE_API_ERROR",
    hint: "OpenNebula refused the call's parameters; this usually means a version mismatch, check `one.system.version`.",
  },
  [OneErrorCode.INTERNAL]: {
    code: "ONE_INTERNAL_ERROR",
    hint: "OpenNebula failed internally; look at /var/log/one/oned.log on the front-end.",
  },
  [OneErrorCode.ALLOCATE]: {
    code: "ONE_ALLOCATE_FAILED",
    hint: "OpenNebula could not create the resource (bad template, name taken, quota, no capacity); read the message above.",
  },
  [OneErrorCode.LOCKED]: {
    code: "ONE_LOCKED",
    hint: "The resource is locked (`one*.lock`); unlock it in Sunstone or with `onevm unlock ID` and retry.",
  },
};

/** Turns a failed response array into a typed error; the message is redacted. */
/**
 * Creating objects fails with INTERNAL in real oned (src/rm/RequestManagerAllocate.cc answers a pool allocate
 * failure with failure_response(INTERNAL, allocate_error(...)), and so does instantiate); ALLOCATE (0x4000) is
 * rare. Either way it is a refused creation, not an oned crash: the message says why (name taken, bad template).
 */
const CREATING = /\.(allocate|instantiate|clone)$/;

export function oneApiError(method: string, oneErrorCode: number, message: string): OpenNebulaError {
  const creating = oneErrorCode === OneErrorCode.INTERNAL && CREATING.test(method);
  const mapped: Mapped = (creating ? MAPPING[OneErrorCode.ALLOCATE] : MAPPING[oneErrorCode]) ?? {
    code: "ONE_API_ERROR",
    hint: "Unexpected OpenNebula error code; see oned.log on the front-end.",
  };
  return new OpenNebulaError(
    mapped.code,
    redact(`${method} failed (${oneErrorCodeName(oneErrorCode)}): ${message.trim() || "no message"}`),
    { hint: mapped.hint, oneErrorCode, method },
  );
}
