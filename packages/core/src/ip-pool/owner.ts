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
