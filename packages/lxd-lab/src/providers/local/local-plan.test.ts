import { describe, expect, it } from "vitest";
import { describePlan } from "../../engine/plan-view.js";
import { parseLabSpec } from "../../spec/parse-lab-spec.js";
import { localProvider } from "./local-provider.js";

describe("local provider plan", () => {
  it("is a pure function of the spec: same spec, same plan; nothing is probed while planning", () => {
    // Binaries that do not exist: planning must not run them (preflight does, later, behind the gate).
    const spec = parseLabSpec(
      { providerOptions: { python: "/nonexistent/python3", haproxy: "/nonexistent/haproxy" } },
      "lab.json",
    );
    const first = describePlan(localProvider, spec);
    expect(describePlan(localProvider, structuredClone(spec))).toEqual(first);
    expect(first.steps.map((s) => s.id)).toEqual([
      "preflight",
      "allocate-address",
      "start-app1",
      "start-app2",
      "start-haproxy",
      "verify-round-robin",
      "bench",
    ]);
    for (const step of first.steps) {
      expect(step.title.length, step.id).toBeGreaterThan(10);
      expect(step.why.length, step.id).toBeGreaterThan(80);
      expect(step.commands.length, step.id).toBeGreaterThan(0);
      expect(step.diagnostics.length, step.id).toBeGreaterThan(0);
    }
    expect(first.steps[0]?.commands).toContain("/nonexistent/python3 --version");
  });

  it("follows the spec: app count, ports, LB port and names", () => {
    const spec = parseLabSpec(
      { name: "three", apps: { count: 3, ports: [9100, 9101, 9102], namePrefix: "web" }, lb: { port: 9180 } },
      "lab.yaml",
    );
    const plan = describePlan(localProvider, spec);
    expect(plan.steps.map((s) => s.id)).toContain("start-web3");
    const web3 = plan.steps.find((s) => s.id === "start-web3");
    expect(web3?.commands[0]).toContain("--name web3 --host 127.0.0.1 --port 9102");
    const lb = plan.steps.find((s) => s.id === "start-haproxy");
    expect(lb?.title).toBe("Start HAProxy on 127.0.0.1:9180 in front of web1, web2, web3");
    expect(plan.steps.find((s) => s.id === "verify-round-robin")?.title).toContain(
      "30 requests through the LB reach web1 and web2 and web3",
    );
  });
});
