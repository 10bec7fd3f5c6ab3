import { describe, expect, it } from "vitest";
import { vethNames } from "../providers/local/netns-plan.js";
import { parseLabSpec } from "../spec/parse-lab-spec.js";
import { parseFault } from "./fault-spec.js";
import { faultGateStep } from "./lab-faults.js";
import { localFaultCalls } from "./local-faults.js";

describe("the local lab's fault calls, as the gate shows them", () => {
  const spec = parseLabSpec({ name: "gate", providerOptions: { netns: true } }, "lab.json");

  it("names the signal, the runtime API command or the tc command, and each undo", () => {
    const call = (text: string) => localFaultCalls(spec, parseFault(text));
    expect(call("stop app2 at 1s for 2s").apply).toBe("kill -TERM $(cat <state>/run/app2.pid)");
    expect(call("kill app2 at 1s for 2s").undo).toMatch(/^restart app2 through its start step/);
    expect(call("pause app1 at 1s for 2s")).toEqual({
      apply: "kill -STOP $(cat <state>/run/app1.pid)",
      undo: "kill -CONT $(cat <state>/run/app1.pid)",
    });
    expect(call("drain app1 at 1s for 2s").undo).toContain("set server gate_apps/app1 state ready");
    const dev = vethNames("gate", 1).app;
    expect(call("delay 200ms app2 at 1s for 2s")).toEqual({
      apply: `ip netns exec lg-gate-app2 tc qdisc add dev ${dev} root netem delay 200ms`,
      undo: `ip netns exec lg-gate-app2 tc qdisc show dev ${dev} root; if netem: ip netns exec lg-gate-app2 tc qdisc del dev ${dev} root`,
    });
    expect(call("loss 5% app1 at 1s for 2s").apply).toMatch(/netem loss 5%$/);
  });

  it("the fault gate lists them", () => {
    const step = faultGateStep([parseFault("delay 200ms app2 at 1s for 2s")], {
      spec,
      provider: { name: "local", plan: () => [] },
      stateDir: "/nonexistent",
    });
    expect(step.description.calls[0]?.display).toMatch(
      /^delay 200ms on app2 from 1s to 3s: ip netns exec lg-gate-app2 tc qdisc add/,
    );
    expect(step.description.calls[0]?.kind).toBe("command");
  });
});
