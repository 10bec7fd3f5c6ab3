import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { lxdLabOptions } from "../providers/lxd/lxd-lab-options.js";
import { createLxdProvider } from "../providers/lxd/lxd-provider.js";
import { parseLabSpec } from "../spec/parse-lab-spec.js";
import { parseFault } from "./fault-spec.js";
import { faultGateStep, labFaultActuator } from "./lab-faults.js";
import { lxdFaultCalls, lxdFaultTarget } from "./lxd-faults.js";

// Planning only: nothing here talks to LXD (192.168.x / 10.x are data).
const spec = parseLabSpec(
  { name: "flt", provider: "lxd", network: { cidr: "10.20.7.0/24", name: "lgtflt0" } },
  "lxd-faults-test",
);

describe("LXD fault actions: targets and the calls the gate shows", () => {
  it("names a backend by its short or instance name; anything else is FAULT_TARGET_UNKNOWN listing the apps", () => {
    const o = lxdLabOptions(spec);
    expect(lxdFaultTarget(o, parseFault("stop app2 at 1s for 1s")).instance).toBe("flt-app2");
    expect(lxdFaultTarget(o, parseFault("stop flt-app1 at 1s for 1s")).instance).toBe("flt-app1");
    expect(() => lxdFaultTarget(o, parseFault("stop lb at 1s for 1s"))).toThrow(
      expect.objectContaining({
        code: "FAULT_TARGET_UNKNOWN",
        message: expect.stringContaining("app1, app2"),
      }),
    );
  });

  it("lists the REST calls and commands that apply and undo each action", () => {
    const calls = (text: string) => lxdFaultCalls(spec, parseFault(text));
    expect(calls("stop app2 at 1s for 2s")).toEqual({
      apply: 'PUT /1.0/instances/flt-app2/state {"action":"stop","force":false,"timeout":30}',
      undo: 'PUT /1.0/instances/flt-app2/state {"action":"start","force":false,"timeout":30}; GET http://<flt-app2 address>:8001/health until 200',
    });
    expect(calls("kill app1 at 1s for 2s").apply).toBe(
      'PUT /1.0/instances/flt-app1/state {"action":"stop","force":true,"timeout":30}',
    );
    expect(calls("pause app2 at 1s for 2s")).toEqual({
      apply: 'PUT /1.0/instances/flt-app2/state {"action":"freeze","force":false,"timeout":30}',
      undo: 'PUT /1.0/instances/flt-app2/state {"action":"unfreeze","force":false,"timeout":30}',
    });
    expect(calls("maint app2 at 1s for 2s")).toEqual({
      apply:
        "POST /1.0/instances/flt-lb/exec python3 → /run/haproxy/admin.sock: set server flt_apps/flt-app2 state maint",
      undo: "POST /1.0/instances/flt-lb/exec python3 → /run/haproxy/admin.sock: set server flt_apps/flt-app2 state ready",
    });
    expect(calls("delay 200ms app2 at 1s for 2s")).toEqual({
      apply:
        'POST /1.0/instances/flt-app2/exec {"command":["tc","qdisc","add","dev","eth0","root","netem","delay","200ms"]}',
      undo:
        'POST /1.0/instances/flt-app2/exec {"command":["tc","qdisc","show","dev","eth0","root"]}; if netem: ' +
        'POST /1.0/instances/flt-app2/exec {"command":["tc","qdisc","del","dev","eth0","root"]}',
    });
    expect(calls("loss 5% app1 at 1s for 2s").apply).toContain('"netem","loss","5%"');
  });

  it("the gate step shows each fault with its apply and undo calls; an LXD lab never built is FAULT_NO_LAB", async () => {
    const dir = await mkdtemp(join(tmpdir(), "lgt-flt-"));
    try {
      const lab = { spec, provider: createLxdProvider(), stateDir: dir };
      const step = faultGateStep([parseFault("pause app2 at 1s for 2s")], lab);
      expect(step.description.calls).toEqual([
        {
          display:
            'pause app2 from 1s to 3s: PUT /1.0/instances/flt-app2/state {"action":"freeze","force":false,"timeout":30}; then PUT /1.0/instances/flt-app2/state {"action":"unfreeze","force":false,"timeout":30}',
          kind: "http",
          where: "lxd",
        },
      ]);
      await expect(labFaultActuator(lab, () => {}, new AbortController().signal)).rejects.toMatchObject({
        code: "FAULT_NO_LAB",
        exitCode: 4,
      });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
