import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { OpenNebulaClient } from "@labgate/core";
import { type RunningOneSimulator, startOneSimulator } from "@labgate/core/simulators";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { runCliInProcess as cli } from "../test-support/in-process-cli.js";
import { seedOneDeploy } from "../test-support/one-deploy-spec.js";

interface Planned {
  kind: string;
  action: string;
  target: string;
  params?: { name?: string; extra_template?: string };
}

/** The XML-RPC methods that only read (OpenNebula's *.info and pool listings). */
const readsOnly = (method: string) => /\.info$/.test(method);

/** `deploy apply` on the OpenNebula simulator (XML-RPC on loopback): what it calls is what the plan said. */
describe("deploy apply on opennebula: the plan's calls are the calls made", () => {
  const saved = { ...process.env };
  let dir: string;
  let state: string;
  let specPath: string;
  let one: RunningOneSimulator;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "labgate-deploy-steps-one-"));
    state = join(dir, "state");
    one = await startOneSimulator({ transitionMs: 5, password: "steps-test-7a2d" });
    const client = new OpenNebulaClient({ endpoint: one.endpoint, session: one.session, env: {} });
    ({ specPath } = await seedOneDeploy({ one, client, dir, tag: "steps" }));
    one.simulator.calls.length = 0;
  });
  afterEach(async () => {
    process.env = { ...saved };
    await one.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it("dry-run calls nothing; apply makes the planned mutating calls with the planned parameters, and every planned read", async () => {
    const dry = await cli(["deploy", "apply", specPath, "--dry-run", "--json", "--state-dir", state]);
    expect(dry.code, dry.stderr).toBe(0);
    const doc = JSON.parse(dry.stdout) as {
      steps: { id: string; calls: unknown[] }[];
      plan: { calls: Planned[] };
    };
    expect(doc.steps.map((s) => s.id)).toEqual(["reserve-address", "create-node", "wait-running"]);
    expect(one.simulator.calls).toEqual([]);
    const planned = doc.plan.calls;

    const r = await cli(["deploy", "apply", specPath, "--yes", "--json", "--state-dir", state]);
    expect(r.code, r.stderr).toBe(0);
    const made = one.simulator.calls.filter((c) => c.ok);
    expect(made.map((c) => c.method).filter((m) => !readsOnly(m))).toEqual(
      planned.map((c) => c.action).filter((m) => !readsOnly(m)),
    );
    let at = 0;
    for (const c of made) if (c.method === planned[at]?.action) at++;
    expect(planned.slice(at).map((c) => c.action)).toEqual([]);

    // one.template.instantiate(template id, name, hold, extra template, persistent): as planned, the claim filled in
    // (the plan shows its placeholder XML-escaped, as it is sent).
    const instantiate = made.find((c) => c.method === "one.template.instantiate");
    const plannedInstantiate = planned.find((c) => c.action === "one.template.instantiate");
    const [templateId, name, , extra] = instantiate?.params ?? [];
    expect(`template ${templateId}`).toBe(plannedInstantiate?.target);
    expect(name).toBe(plannedInstantiate?.params?.name);
    const record = JSON.parse(r.stdout) as { ref: { location: { intent: string } } };
    expect(extra).toBe(
      plannedInstantiate?.params?.extra_template?.replace(
        "&lt;random per apply&gt;",
        record.ref.location.intent,
      ),
    );

    // destroy, the steps' undo: the VM goes, then the address.
    const d = await cli(["deploy", "destroy", specPath, "--yes", "--json", "--state-dir", state]);
    expect(d.code, d.stderr).toBe(0);
    expect(JSON.parse(d.stdout)).toMatchObject({
      destroyed: { name: "steps-one" },
      released: ["192.168.3.30"],
    });
    const client = new OpenNebulaClient({ endpoint: one.endpoint, session: one.session, env: {} });
    expect(
      (await client.vmPool()).filter((vm) => vm.name === "steps-one" && vm.stateName !== "DONE"),
    ).toEqual([]);
  });
});
