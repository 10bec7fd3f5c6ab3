import { IpPoolRequestError } from "../errors.js";

const MAX_OWNER_LENGTH = 128;

/** Returns the reason `owner` is not acceptable, or undefined when it is. */
export function ownerProblem(owner: unknown): string | undefined {
  if (typeof owner !== "string") return "it must be a string";
  if (owner.length === 0) return "it is empty";
  if (owner.length > MAX_OWNER_LENGTH) return `it is longer than ${MAX_OWNER_LENGTH} characters`;
  if (owner.trim() !== owner) return "it starts or ends with whitespace";
  if (/[\u0000-\u001f\u007f]/.test(owner)) return "it contains control characters";
  return undefined;
}

/** Owners identify who holds an address (a VM name, a lab id); they are printed and stored as-is. */
export function assertValidOwner(owner: unknown): asserts owner is string {
  const problem = ownerProblem(owner);
  if (problem) {
    throw new IpPoolRequestError(
      "INVALID_OWNER",
      `The owner ${JSON.stringify(owner)} is not usable: ${problem}.`,
      {
        hint: 'Use a short identifier such as a VM or lab name, e.g. "lab1-web1".',
      },
    );
  }
}
