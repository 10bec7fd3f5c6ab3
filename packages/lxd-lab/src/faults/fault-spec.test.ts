import { ExitCode, LabgateError } from "@labgate/core";
import { describe, expect, it } from "vitest";
import { assertFaultsFit, describeFault, parseFault, parseFaults } from "./fault-spec.js";

function refusal(text: string): LabgateError {
  try {
    parseFault(text);
  } catch (error) {
    expect(error).toBeInstanceOf(LabgateError);
    return error as LabgateError;
  }
  throw new Error(`'${text}' was accepted`);
}

describe("parseFault", () => {
  it("reads every action with its target, offset and duration", () => {
    expect(parseFault("stop app2 at 5s for 10s")).toEqual({
      action: "stop",
      target: "app2",
      atMs: 5_000,
      forMs: 10_000,
      text: "stop app2 at 5s for 10s",
    });
    expect(parseFault("  KILL app1 for 1.5s at 500ms ")).toMatchObject({
      action: "kill",
      atMs: 500,
      forMs: 1_500,
    });
    expect(parseFault("pause app2 at 0s for 1m")).toMatchObject({ action: "pause", atMs: 0, forMs: 60_000 });
    expect(parseFault("drain app1 at 2s for 3s").action).toBe("drain");
    expect(parseFault("maint app1 at 2s for 3s").action).toBe("maint");
    expect(parseFault("delay 200ms app2 at 5s for 10s")).toMatchObject({
      action: "delay",
      amount: 200,
      target: "app2",
    });
    expect(parseFault("loss 5% app2 at 5s for 10s")).toMatchObject({ action: "loss", amount: 5 });
    expect(parseFault("loss 0.5% app2 at 5s for 10s").amount).toBe(0.5);
  });

  it.each([
    ["", "empty"],
    ["reboot app2 at 5s for 10s", "unknown action 'reboot'"],
    ["stop at 5s for 10s", "no target"],
    ["stop app2 for 10s", "no start offset"],
    ["stop app2 at 5s", "no duration"],
    ["stop app2 at 5 for 10s", "needs a unit"],
    ["stop app2 at 5s for 0s", "longer than 0"],
    ["stop app2 at 5s for 25h", "needs a unit"],
    ["stop app2 at 5s for 1441m", "longer than 24h"],
    ["stop app2 at 5s for 10s at 6s", "given twice"],
    ["stop app2 at 5s for 10s now", "unexpected word 'now'"],
    ["stop app2 at", "needs a value"],
    ["stop 'app2;rm' at 1s for 1s", "not a backend name"],
    ["delay app2 at 5s for 10s", "not a delay in ms"],
    ["delay 200 app2 at 5s for 10s", "not a delay in ms"],
    ["delay 0ms app2 at 5s for 10s", "not a delay in ms"],
    ["loss 150% app2 at 5s for 10s", "not a loss in percent"],
    ["loss 5 app2 at 5s for 10s", "not a loss in percent"],
  ])("refuses %j (%s) with exit 2 and the grammar as hint", (text, why) => {
    const error = refusal(text);
    expect(error.code).toBe("FAULT_INVALID");
    expect(error.exitCode).toBe(ExitCode.INVALID_INPUT);
    expect(error.message).toContain(why);
    expect(error.hint).toContain("stop app2 at 5s for 10s");
  });

  it("refuses two faults on one backend at overlapping times, allows back-to-back ones", () => {
    expect(() => parseFaults(["stop app2 at 5s for 10s", "drain app2 at 14s for 2s"])).toThrow(/same time/);
    expect(
      parseFaults(["stop app2 at 5s for 10s", "drain app2 at 15s for 2s", "stop app1 at 5s for 1s"]),
    ).toHaveLength(3);
  });

  it("refuses a fault that ends after the run", () => {
    const faults = parseFaults(["stop app2 at 5s for 10s"]);
    expect(() => assertFaultsFit(faults, 14_999)).toThrow(/ends at 15s, after the run ends/);
    expect(() => assertFaultsFit(faults, 15_000)).not.toThrow();
  });

  it("describes a fault for people", () => {
    expect(describeFault(parseFault("delay 200ms app2 at 5s for 10s"))).toBe(
      "delay 200ms on app2 from 5s to 15s",
    );
    expect(describeFault(parseFault("stop app2 at 500ms for 1s"))).toBe("stop app2 from 500ms to 1500ms");
  });
});
