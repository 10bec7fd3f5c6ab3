import { IpPoolRequestError } from "../errors.js";

const MAX_OWNER_LENGTH = 128;
/** How much of a refused owner an error message quotes: enough to recognise it, never a wall of text. */
const QUOTED_OWNER_LENGTH = 40;

/**
 * Control characters (C0, C1 including NEL), format characters (bidi overrides and isolates,
 * zero-width spaces and joiners, the BOM) and line/paragraph separators. Each can make one owner
 * print like another in `labgate ip list`, or break a line-based reader of the output.
 */
const INVISIBLE = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/u;

/** Returns the reason `owner` is not acceptable, or undefined when it is. */
export function ownerProblem(owner: unknown): string | undefined {
  if (typeof owner !== "string") return "it must be a string";
  if (owner.length === 0) return "it is empty";
  if (owner.length > MAX_OWNER_LENGTH)
    return `it is ${owner.length} characters long; the limit is ${MAX_OWNER_LENGTH}`;
  const invisible = INVISIBLE.exec(owner);
  if (invisible) {
    const codePoint = (invisible[0].codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(4, "0");
    return `it contains the control or format character U+${codePoint} at position ${invisible.index}, which can hide or reorder what is printed`;
  }
  if (owner.trim() !== owner) return "it starts or ends with whitespace";
  return undefined;
}

/** The owner as an error message may show it: JSON-quoted (so invisible characters are escaped) and cut short. */
export function quoteOwner(owner: unknown): string {
  if (typeof owner !== "string") return JSON.stringify(owner) ?? String(owner);
  if (owner.length <= QUOTED_OWNER_LENGTH) return escapeInvisible(JSON.stringify(owner));
  return `${escapeInvisible(JSON.stringify(owner.slice(0, QUOTED_OWNER_LENGTH)))}... (${owner.length} characters)`;
}

/** JSON escapes C0 controls only; bidi, zero-width, NEL and separators must not reach a terminal raw either. */
function escapeInvisible(text: string): string {
  return text.replace(
    new RegExp(INVISIBLE.source, "gu"),
    (c) => `\\u${(c.codePointAt(0) ?? 0).toString(16).padStart(4, "0")}`,
  );
}

/** Owners identify who holds an address (a VM name, a lab id); they are printed and stored as-is. */
export function assertValidOwner(owner: unknown): asserts owner is string {
  const problem = ownerProblem(owner);
  if (problem) {
    throw new IpPoolRequestError(
      "INVALID_OWNER",
      `The owner ${quoteOwner(owner)} is not usable: ${problem}.`,
      {
        hint: `Use a short identifier (at most ${MAX_OWNER_LENGTH} visible characters) such as a VM or lab name, e.g. "lab1-web1".`,
      },
    );
  }
}

/**
 * The owner of a lab's addresses in a pool ledger: `lab:<lab>` for an address the lab holds as a whole
 * (the local lab's loopback address), `lab:<lab>/<machine>` for one machine's, named as the platform
 * names it (so `labgate ip reconcile` matches the owner with the container or VM). Every lab provider
 * makes its owners here.
 */
export function labOwner(lab: string, machine?: string): string {
  return machine === undefined ? `lab:${lab}` : `lab:${lab}/${machine}`;
}

/** What a lab owner names: the lab, and the machine when the address is one machine's. */
export interface LabOwner {
  lab: string;
  machine?: string;
}

/**
 * Reads a lab owner in today's form or the one OpenNebula labs wrote before the forms were unified,
 * `lab:<lab>:<vm>` with the VM's short name (the VM itself is `<lab>-<vm>`). Lab names are
 * [a-z0-9-], so the separators cannot be part of one. Anything else is not a lab's owner.
 */
export function parseLabOwner(owner: string): LabOwner | undefined {
  const m = /^lab:([^/:]+)(?:([/:])(.+))?$/.exec(owner);
  if (!m?.[1]) return undefined;
  const [, lab, separator, rest] = m;
  if (rest === undefined) return { lab };
  return { lab, machine: separator === ":" ? `${lab}-${rest}` : rest };
}

/** Whether a ledger owner is this lab's (and this machine's), in today's form or an older one. */
export function isLabOwner(owner: string, lab: string, machine?: string): boolean {
  const parsed = parseLabOwner(owner);
  return parsed?.lab === lab && parsed.machine === machine;
}
