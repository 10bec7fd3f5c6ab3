import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ExitCode } from "@labgate/core";
import { afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { startProxmoxSim } from "../../../core/src/adapters/test-support/proxmox-sim.js";
import { writeUnnamedIntent } from "../../../core/src/deploy-rules/test-support/interrupted-record.js";
import { seedNetwork } from "../../../core/src/ip-pool/test-support/seed-network.js";
import { ensureBuiltCli } from "../test-support/built-cli.js";
import { runCliInProcess as cli } from "../test-support/in-process-cli.js";
import { proxmoxVmSpec, useProxmoxDeployEnv } from "../test-support/proxmox-deploy-env.js";

const TOKEN_ID = "labgate@pve!kill";
const SECRET = "3e9a1c77-kill-test-secret-b2d4";
const POOLS = { networks: [seedNetwork()] };

let bin: string;
beforeAll(() => {
  bin = ensureBuiltCli();
}, 300_000);

/**
 * `deploy apply` as a real process, killed with SIGKILL while its clone request is in flight: the
 * simulator has created the VM but holds the answer, exactly the moment the issue describes.
 */
describe("deploy apply killed with SIGKILL right after the clone call", () => {
  let dir: string;
  let sim: Awaited<ReturnType<typeof startProxmoxSim>>;
  let specPath: string;
  let state: string;
  let cloneSeen: () => void;
  let cloned: Promise<void>;
  let holdClone = true;
  const held: Array<() => void> = [];
  const children: ChildProcess[] = [];
  const saved = { ...process.env };

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "labgate-deploy-kill-"));
    state = join(dir, "state");
    holdClone = true;
    cloned = new Promise((resolve) => {
      cloneSeen = resolve;
    });
    sim = await startProxmoxSim({
      tokenId: TOKEN_ID,
      secret: SECRET,
      taskPolls: 0,
      intercept: (req, reply) => {
        if (!(holdClone && req.method === "POST" && req.path.endsWith("/clone"))) return reply;
        cloneSeen();
        return new Promise((resolve) => held.push(() => resolve(reply)));
      },
    });
    sim.addTemplate(9000, { config: { scsi0: "local-lvm:base-9000-disk-0,size=3G", boot: "order=scsi0" } });
    specPath = join(dir, "vm.json");
    const vm = { name: "ubuntu-big", cores: 2, memory_gib: 2 };
    await writeFile(specPath, JSON.stringify(proxmoxVmSpec(sim.url, vm, { cidr: "192.168.3.0/24" })));
    await useProxmoxDeployEnv(dir, POOLS, { id: TOKEN_ID, secret: SECRET });
  });

  afterEach(async () => {
    for (const child of children.splice(0)) if (child.exitCode === null) child.kill("SIGKILL");
    for (const release of held.splice(0)) release();
    process.env = { ...saved };
    await sim.close();
    await rm(dir, { recursive: true, force: true });
  });

  async function applyAndKill(): Promise<void> {
    const child = spawn(
      process.execPath,
      [bin, "deploy", "apply", specPath, "--yes", "--state-dir", state, "--timeout", "20"],
      { cwd: dir, env: { ...process.env }, stdio: ["ignore", "pipe", "pipe"] },
    );
    children.push(child);
    let stderr = "";
    child.stderr?.on("data", (c) => (stderr += c));
    const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on("exit", (_c, s) => resolve(s)));
    await Promise.race([
      cloned,
      exited.then(() => {
        throw new Error(`apply exited before its clone call:\n${stderr}`);
      }),
    ]);
    child.kill("SIGKILL");
    expect(await exited).toBe("SIGKILL");
    holdClone = false;
    for (const release of held.splice(0)) release();
    // The clone task runs on in the server after its client died.
    sim.completeTasks();
  }

  const vmsNamed = (name: string) =>
    [...sim.vms.entries()].filter(([, vm]) => vm.name === name && !vm.template).map(([id]) => id);

  it("leaves an intent record naming the VM; the re-run replaces it (no duplicate) and destroy removes it", async () => {
    await applyAndKill();
    expect(vmsNamed("ubuntu-big")).toEqual([100]);
    const recordPath = join(state, "proxmox-ubuntu-big.json");
    const intent = JSON.parse(await readFile(recordPath, "utf8"));
    expect(intent).toMatchObject({
      status: "creating",
      ref: { platform: "proxmox", id: "100", name: "ubuntu-big" },
      ipOwner: "deploy/proxmox/ubuntu-big",
    });
    // Records hold node ids and addresses: the directory is private, the files 0600.
    expect((await stat(state)).mode & 0o777).toBe(0o700);
    expect((await stat(recordPath)).mode & 0o777).toBe(0o600);

    const plan = await cli(["deploy", "plan", specPath, "--json", "--state-dir", state]);
    expect(plan.code).toBe(0);
    expect(plan.stderr).toContain("An earlier apply of ubuntu-big was interrupted");
    expect(JSON.parse(plan.stdout).interrupted).toMatchObject({ id: "100", name: "ubuntu-big" });

    const again = await cli(["deploy", "apply", specPath, "--yes", "--json", "--state-dir", state]);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stderr).toContain("An earlier apply of ubuntu-big was interrupted");
    expect(again.stderr).toContain("left node 100 on proxmox");
    expect(vmsNamed("ubuntu-big")).toHaveLength(1);
    const record = JSON.parse(await readFile(recordPath, "utf8"));
    expect(record.status).toBeUndefined();
    expect(JSON.parse(again.stdout)).toMatchObject({ state: "running", network: { ip: "192.168.3.30" } });

    const destroyed = await cli(["deploy", "destroy", specPath, "--yes", "--json", "--state-dir", state]);
    expect(destroyed.code, destroyed.stderr).toBe(0);
    expect(JSON.parse(destroyed.stdout).released).toEqual(["192.168.3.30"]);
    expect(vmsNamed("ubuntu-big")).toEqual([]);
    const ledger = JSON.parse(await readFile(join(dir, "ip_pools.state.json"), "utf8"));
    expect(ledger.allocations).toEqual([]);
  }, 120_000);

  it("destroy alone finds the VM the killed apply made, removes it and releases the address", async () => {
    await applyAndKill();
    expect(vmsNamed("ubuntu-big")).toEqual([100]);
    const destroyed = await cli(["deploy", "destroy", specPath, "--yes", "--json", "--state-dir", state]);
    expect(destroyed.code, destroyed.stderr).toBe(0);
    expect(JSON.parse(destroyed.stdout)).toMatchObject({
      destroyed: { id: "100", name: "ubuntu-big" },
      released: ["192.168.3.30"],
    });
    expect(sim.vms.has(100)).toBe(false);
    expect(await cli(["deploy", "destroy", specPath, "--yes", "--state-dir", state])).toMatchObject({
      code: ExitCode.PRECONDITION,
    });
  }, 120_000);

  it("an intent whose VMID now belongs to another VM never touches that VM", async () => {
    await applyAndKill();
    // Someone renamed/replaced VM 100 in between: same id, another name.
    (sim.vms.get(100) as { name: string }).name = "someone-else";
    const destroyed = await cli(["deploy", "destroy", specPath, "--yes", "--json", "--state-dir", state]);
    expect(destroyed.code, destroyed.stderr).toBe(0);
    expect(destroyed.stderr).toContain("nothing of it is on proxmox");
    expect(sim.vms.get(100)?.name).toBe("someone-else");
  }, 120_000);

  it("an adapter that cannot look nodes up refuses an interrupted record without an id, saying what to do", async () => {
    // The local platform learns its node's id (the pid) only from the call itself.
    const localSpec = join(dir, "local.json");
    await writeFile(
      localSpec,
      JSON.stringify({
        name: "node1",
        os: { family: "linux" },
        cores: 1,
        memory_mib: 128,
        network: {},
        platform_options: { local: { command: [process.execPath, "-e", "setInterval(() => {}, 1000)"] } },
      }),
    );
    await writeUnnamedIntent(join(state, "local-node1.json"), "local", "node1");
    for (const action of ["apply", "destroy"]) {
      const r = await cli(["deploy", action, localSpec, "-p", "local", "--yes", "--state-dir", state]);
      expect(r.code, r.stderr).toBe(ExitCode.STATE);
      expect(r.stderr).toContain("DEPLOY_INTERRUPTED_UNKNOWN");
      expect(r.stderr).toContain("labgate ip release --owner deploy/local/node1");
    }
  });
});
