import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { LxdClient, type LxdRequest, LxdTransport } from "@labgate/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { StepCall } from "../../engine/plan-step.js";
import { planSteps } from "../../engine/plan-view.js";
import type { LabStep, ResourceRecord, StepContext } from "../../engine/step.js";
import { parseLabSpec } from "../../spec/parse-lab-spec.js";
import { LAB_MARKER_KEY, lxdLabOptions } from "./lxd-lab-options.js";
import { createLxdProvider } from "./lxd-provider.js";
import { failUnlessUsable, lxdE2eState } from "./test-support/lxd-e2e-env.js";

/**
 * The LXD lab's plan shows the requests its steps send: create-network, launch-app1 and deploy-app1 (push
 * variant) run against the real daemon through a transport that records every request, and the mutating ones
 * (method, path, JSON body) are compared with the step's planned calls; so are undo's with its undo calls.
 * Gated like the other LXD suites. Traffic: LXD's socket, and deploy's health probe to the container on
 * the bridge this test creates.
 * Subnet 10.20.80.0–10.20.89.0 (lxd-e2e uses 100–202, the cloud-init suite 20–79).
 */
const image = process.env.LABGATE_LXD_IMAGE ?? "labgate/debian-bookworm";
const state = await lxdE2eState([image]);
failUnlessUsable("LXD launch calls", state);

/** A transport that keeps every request it sends (what LXD really got). */
class RecordingTransport extends LxdTransport {
  readonly sent: LxdRequest[] = [];
  override raw(req: LxdRequest): ReturnType<LxdTransport["raw"]> {
    this.sent.push(req);
    return super.raw(req);
  }
}

interface Request {
  method: string;
  path: string;
  body?: unknown;
}

/**
 * The requests that change something, as sent. The exec call's own output logs (read, then deleted by the
 * client after each exec) belong to the exec and are left out.
 */
function mutating(sent: LxdRequest[]): Request[] {
  return sent
    .filter((r) => r.method !== "GET" && !/\/logs\//.test(r.path))
    .map((r) => ({
      method: r.method,
      path: decodeURIComponent(r.path),
      ...(r.body !== undefined && !Buffer.isBuffer(r.body) && typeof r.body !== "string"
        ? { body: r.body }
        : {}),
    }));
}

/** A planned call as a request: `METHOD /path {json}   # comment`; comments and reads are not requests. */
function planned(calls: StepCall[]): Request[] {
  return calls.flatMap((c) => {
    const m = /^(POST|PUT|PATCH|DELETE) (\S+)(?: (\{.*\}))?(?:\s{3}[^{}]*)?$/.exec(c.display);
    if (!m) return [];
    return [{ method: m[1] as string, path: m[2] as string, ...(m[3] ? { body: JSON.parse(m[3]) } : {}) }];
  });
}

/** Each request matches its planned call: same method and path, and the planned body is what was sent (LXD's defaults aside). */
function expectSameRequests(made: Request[], plan: Request[]): void {
  expect(made.map((r) => `${r.method} ${r.path}`)).toEqual(plan.map((r) => `${r.method} ${r.path}`));
  for (const [i, p] of plan.entries())
    if (p.body !== undefined) expect(made[i]?.body).toMatchObject(p.body as object);
}

describe.skipIf(!state.ok)(
  `LXD lab: planned calls are the requests made${state.ok ? "" : ` (skipped: ${state.reason})`}`,
  () => {
    const tag = randomBytes(2).toString("hex");
    const lab = `lgt-h51-${tag}`;
    const bridge = `lgth51${tag}`;
    const transport = new RecordingTransport({ socketPath: state.socket as string });
    const client = new LxdClient(transport);
    const plain = new LxdClient({ socketPath: state.socket as string });
    const spec = parseLabSpec(
      {
        name: lab,
        provider: "lxd",
        network: { cidr: `10.20.${80 + (process.pid % 10)}.0/24`, name: bridge, dhcp: false },
        image,
        providerOptions: { payload: "push" },
      },
      "launch-calls",
    );
    const o = lxdLabOptions(spec);
    const steps = planSteps(createLxdProvider({ clientFor: () => client }), spec);
    const step = (id: string) => steps.find((s) => s.description.id === id) as LabStep;
    let records: ResourceRecord[] = [];
    let stateDir = "";
    const ctx = (): StepContext => ({
      spec,
      stateDir,
      signal: new AbortController().signal,
      log: () => {},
      async record(r) {
        records = [...records.filter((x) => !(x.kind === r.kind && x.id === r.id)), r];
      },
      async forget(kind, id) {
        records = records.filter((x) => !(x.kind === kind && x.id === id));
      },
      resources: (kind) => records.filter((r) => kind === undefined || r.kind === kind),
    });

    /** Runs check → apply → verify like the runner; returns the mutating requests apply made. */
    async function applied(s: LabStep): Promise<Request[]> {
      const found = await s.actions.check(ctx());
      expect(found.done).toBe(false);
      transport.sent.length = 0;
      await s.actions.apply(ctx(), found);
      const made = mutating(transport.sent);
      await s.actions.verify(ctx());
      return made;
    }

    async function undone(s: LabStep): Promise<Request[]> {
      transport.sent.length = 0;
      await s.actions.undo(ctx());
      return mutating(transport.sent);
    }

    beforeAll(async () => {
      stateDir = await mkdtemp(join(tmpdir(), "labgate-h51-"));
    });

    afterAll(async () => {
      // Safety net when a case failed half-way: only what carries this lab's marker.
      const instance = await plain.getInstance(o.apps[0]?.instance ?? "").catch(() => undefined);
      if (instance?.config[LAB_MARKER_KEY] === lab) {
        await plain.setInstanceState(instance.name, "stop", { force: true }).catch(() => {});
        await plain.deleteInstance(instance.name).catch(() => {});
      }
      const network = await plain.getNetwork(bridge).catch(() => undefined);
      if (network?.config[LAB_MARKER_KEY] === lab) await plain.deleteNetwork(bridge).catch(() => {});
      await rm(stateDir, { recursive: true, force: true });
    }, 120_000);

    it("create-network, launch-app1, deploy-app1 and their undo send exactly the planned requests", async () => {
      const network = step("create-network");
      expectSameRequests(await applied(network), planned(network.description.calls));

      const addresses = step("allocate-addresses");
      await addresses.actions.apply(ctx(), await addresses.actions.check(ctx()));

      const launch = step("launch-app1");
      const shown = launch.current?.(ctx()) ?? launch.description;
      // The plan shows the allocated address, and the create call's body is exactly the one sent.
      const ip = records.find((r) => r.kind === "address" && r.id === `${lab}-app1`)?.data?.ip as string;
      expect(shown.calls.map((c) => c.display).join("\n")).toContain(`ip addr replace ${ip}/24 dev eth0`);
      const made = await applied(launch);
      const plan = planned(shown.calls);
      expectSameRequests(made, plan);
      expect(made[0]?.body).toEqual({ ...(plan[0]?.body as object) });
      expect(plan.map((r) => `${r.method} ${r.path}`)).toEqual([
        "POST /1.0/instances",
        `PUT /1.0/instances/${lab}-app1/state`,
        `POST /1.0/instances/${lab}-app1/exec`,
        `POST /1.0/instances/${lab}-app1/files?path=/etc/labgate/boot.d/10-network.sh`,
        `POST /1.0/instances/${lab}-app1/exec`,
      ]);
      expect((await plain.getInstanceState(`${lab}-app1`)).status).toBe("Running");

      // A second check finds it done: what was created is what the step wants (no drift from its own body).
      expect((await launch.actions.check(ctx())).done).toBe(true);

      // deploy-app1 pushes the files its plan lists, runs the start script, records the hash it shows.
      const deploy = step("deploy-app1");
      const before = planned(deploy.current?.(ctx()).calls ?? []);
      const pushed = await applied(deploy);
      const after = planned(deploy.current?.(ctx()).calls ?? []);
      expect(after.map((r) => `${r.method} ${r.path}`)).toEqual(before.map((r) => `${r.method} ${r.path}`));
      expectSameRequests(pushed, after);
      expect(pushed.filter((r) => r.path.includes("/files?path=")).map((r) => r.path.split("=")[1])).toEqual([
        "/opt/labgate/sentiment-app/app.py",
        "/opt/labgate/sentiment-app/sentiment_model.py",
        "/opt/labgate/sentiment-app/lexicon.txt",
        "/usr/local/sbin/labgate-app-setup.sh",
        "/etc/labgate/boot.d/50-app.sh",
      ]);
      expectSameRequests(await undone(deploy), planned(deploy.description.undoCalls ?? []));

      expectSameRequests(await undone(launch), planned(launch.description.undoCalls ?? []));
      expect(await plain.getInstance(`${lab}-app1`)).toBeUndefined();
      // Undo of an instance already gone sends nothing and succeeds.
      expect(await undone(launch)).toEqual([]);

      await addresses.actions.undo(ctx());
      expectSameRequests(await undone(network), planned(network.description.undoCalls ?? []));
      expect(await plain.getNetwork(bridge)).toBeUndefined();
    }, 300_000);
  },
);
