import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import {
  IpPool,
  LocalAdapter,
  localLoopbackPoolConfig,
  type NodeRef,
  resolveDeployNetwork,
} from "@labgate/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LabStateStore } from "../../engine/lab-state.js";
import { createStepContext } from "../../engine/step-context.js";
import { defaultLabSpec } from "../../spec/default-lab-spec.js";
import { ownProcessAlive, stopManagedProcess } from "./instance-process.js";
import { localProvider } from "./local-provider.js";

const here = dirname(fileURLToPath(import.meta.url));
const coreAdapters = join(here, "../../../../core/src/adapters");

/** The local lab's sources and the local deploy adapter's: the two users of a process node. */
async function sources(): Promise<{ file: string; text: string }[]> {
  const lab = (await readdir(here))
    .filter((f) => f.endsWith(".ts") && !f.endsWith(".test.ts"))
    .map((f) => join(here, f));
  const files = [...lab, join(coreAdapters, "local.ts")];
  return Promise.all(files.map(async (file) => ({ file, text: await readFile(file, "utf8") })));
}

describe("the local lab and the local deploy platform share one process-node code path", () => {
  it("neither spawns, signals or reads a process's identity itself: both call core's process node", async () => {
    const all = await sources();
    // What a process node does, and core's adapters/local-process.ts alone may do.
    const own = [
      /\bprocess\.kill\(/,
      /\bspawnDetached\(/,
      /\bspawn\(/,
      /node:child_process/,
      /\/stat`/,
      /\breadProcStat\(/,
    ];
    const offenders = all.flatMap(({ file, text }) =>
      own.filter((re) => re.test(text)).map((re) => `${relative(join(here, "../../../.."), file)}: ${re}`),
    );
    expect(offenders).toEqual([]);
    const text = (name: string) => all.find((s) => s.file.endsWith(name))?.text ?? "";
    for (const user of ["instance-process.ts", "adapters/local.ts"]) {
      expect(text(user), user).toMatch(/\bstartProcessNode\(/);
      expect(text(user), user).toMatch(/\bstopProcessNode\(/);
      expect(text(user), user).toMatch(/\bwaitForProcessNode\(/);
    }
    expect(text("instance-process.ts")).toMatch(/\bownedProcess\(/);
  });

  describe("a node one side started, the other recognises and stops", () => {
    let root: string;
    let ref: NodeRef | undefined;
    beforeAll(async () => {
      root = await mkdtemp(join(tmpdir(), "labgate-process-node-"));
    });
    afterAll(async () => {
      if (ref) await new LocalAdapter().destroy(ref);
      await rm(root, { recursive: true, force: true });
    });

    it("a deploy node's identity (pid, start time) is what the lab records, checks and stops by", async () => {
      const deploy = {
        name: "shared",
        platform: "local" as const,
        os: { family: "linux" as const },
        cores: 1,
        memory_mib: 64,
        network: { ip: "127.0.0.6" },
        platform_options: { local: { command: ["sleep", "60"], log_dir: root } },
      };
      const pool = new IpPool({
        config: localLoopbackPoolConfig(),
        statePath: join(root, "ip-pool.state.json"),
      });
      const { spec: resolved } = await resolveDeployNetwork(deploy, "local", pool);
      const adapter = new LocalAdapter({ spec: deploy, stopGraceMs: 2_000 });
      ref = await adapter.create(resolved);
      const started = ref.location?.["started"];
      expect(started).toMatch(/^\d+$/);

      const lab = defaultLabSpec();
      const store = new LabStateStore(join(root, "lab"));
      await store.load();
      const logs: string[] = [];
      const ctx = createStepContext(
        store,
        lab,
        localProvider,
        (m) => logs.push(m),
        new AbortController().signal,
      );
      const p = { name: "app1", markers: ["sleep"], ports: [] };
      const record = (startTime: string | undefined) =>
        ctx.record({
          kind: "process",
          id: "app1",
          stepId: "start-app1",
          data: { pid: Number(ref?.id), ...(startTime ? { started: startTime } : {}), ports: [] },
        });

      // Without the start time the pid proves nothing: not ours, not stopped.
      await record(undefined);
      expect(await ownProcessAlive(ctx, p)).toBeUndefined();
      await stopManagedProcess(ctx, p);
      expect((await adapter.get(ref))?.state).toBe("running");
      expect(logs.join("\n")).toContain(`left pid ${ref.id} alone: its record has no start time`);

      await record(started);
      expect(await ownProcessAlive(ctx, p)).toBe(Number(ref.id));
      await stopManagedProcess(ctx, p);
      expect(await adapter.get(ref)).toBeUndefined();
    });
  });
});
