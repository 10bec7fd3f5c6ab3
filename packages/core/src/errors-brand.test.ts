import { describe, expect, it } from "vitest";
import { InvalidInputError, IpLedgerError, LabgateError, PreconditionError, StateError } from "./errors.js";

type ErrorsModule = typeof import("./errors.js");

/** A second, separately evaluated copy of this module: what two @labgate/core copies in one process give. */
async function secondCopy(): Promise<ErrorsModule> {
  const specifier = `./errors.ts?copy=${Date.now()}`;
  return (await import(/* @vite-ignore */ specifier)) as ErrorsModule;
}

describe("error brands", () => {
  it("a second copy of the errors module really has other classes", async () => {
    const copy = await secondCopy();
    expect(copy.LabgateError).not.toBe(LabgateError);
    // Without the brand, the plain prototype check fails across copies; this is what the brand fixes.
    const foreign = new copy.StateError("LEDGER_LOCKED", "locked");
    expect(Object.getPrototypeOf(Object.getPrototypeOf(foreign))).not.toBe(LabgateError.prototype);
  });

  it("instanceof holds across copies, for the class and every labgate class above it", async () => {
    const copy = await secondCopy();
    const foreign = new copy.IpLedgerError("LEDGER_INVALID", "broken");
    expect(foreign instanceof IpLedgerError).toBe(true);
    expect(foreign instanceof StateError).toBe(true);
    expect(foreign instanceof LabgateError).toBe(true);
    expect(foreign instanceof Error).toBe(true);
    const local = new InvalidInputError("INVALID_FLAG", "bad");
    expect(local instanceof copy.InvalidInputError).toBe(true);
    expect(local instanceof copy.LabgateError).toBe(true);
  });

  it("does not confuse sibling classes or plain errors", async () => {
    const copy = await secondCopy();
    const foreign = new copy.PreconditionError("HAPROXY_MISSING", "missing");
    expect(foreign instanceof StateError).toBe(false);
    expect(foreign instanceof InvalidInputError).toBe(false);
    expect(foreign instanceof PreconditionError).toBe(true);
    expect(new Error("plain") instanceof LabgateError).toBe(false);
    expect(Object.assign(new Error("look-alike"), { code: "X", exitCode: 3 }) instanceof LabgateError).toBe(
      false,
    );
    expect((null as unknown as object) instanceof LabgateError).toBe(false);
  });

  it("the brand is not enumerable: JSON output and spreads stay as they were", () => {
    const e = new StateError("LEDGER_LOCKED", "locked", { hint: "wait" });
    const brand = Symbol.for("labgate.error.brands");
    expect(Object.getOwnPropertyDescriptor(e, brand)?.enumerable).toBe(false);
    expect(Object.getOwnPropertySymbols({ ...e })).not.toContain(brand);
    expect(JSON.parse(JSON.stringify(e))).toEqual({
      error: "StateError",
      code: "LEDGER_LOCKED",
      message: "locked",
      hint: "wait",
    });
  });
});
