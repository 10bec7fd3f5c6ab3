import type { DeploymentPlan, PlannedCall } from "@labgate/core";
import { describe, expect, it } from "vitest";
import { httpCall } from "../../../core/src/adapters/planned-call.js";
import { splitPlanCalls, stepCall } from "./deploy-calls.js";

const call = httpCall;

const plan = (calls: PlannedCall[]): DeploymentPlan => ({
  platform: "proxmox",
  name: "web-1",
  network: { mode: "dhcp" },
  calls,
});

describe("a deployment plan's calls as steps", () => {
  it("the trailing polls go to wait-running, every other call to create-node, in the plan's order", () => {
    const calls = [
      call("GET", "/cluster/nextid", "Ask for a free VMID."),
      call("POST", "/nodes/pve1/qemu/9000/clone", "Clone; poll the task until it stops.", { newid: 100 }),
      call("POST", "/nodes/pve1/qemu/100/status/start", "Start the VM and poll the task."),
      call("GET", "/nodes/pve1/qemu/100/status/current", "Poll until the VM reports running."),
    ];
    const split = splitPlanCalls(plan(calls));
    expect(split.create).toEqual(calls.slice(0, 3));
    expect(split.wait).toEqual(calls.slice(3));
    // A poll in the middle stays with the calls around it.
    const middle = [calls[3] as PlannedCall, calls[0] as PlannedCall];
    expect(splitPlanCalls(plan(middle))).toEqual({ create: middle, wait: [] });
  });

  it("shows a call as the adapter planned it: action, target and parameters; commands as their line", () => {
    expect(stepCall(call("POST", "/x", "why", { a: 1 }))).toEqual({
      display: 'POST /x {"a":1}',
      kind: "http",
    });
    expect(
      stepCall({
        kind: "command",
        action: "vmkfstools",
        target: "vmkfstools -i a b",
        why: "w",
        where: "host",
      }),
    ).toEqual({ display: "vmkfstools -i a b", kind: "command", where: "host" });
  });
});
