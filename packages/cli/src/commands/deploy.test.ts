import { mkdir, mkdtemp, readFile, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { acquireFileLock, ExitCode } from "@labgate/core";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { startProxmoxSim } from "../../../core/src/adapters/test-support/proxmox-sim.js";
import { reportError } from "../main.js";
import { runCliInProcess } from "../test-support/in-process-cli.js";
import { endProxmoxDeploy, useProxmoxDeploySpec } from "../test-support/proxmox-deploy-env.js";
import { deployCommand, parseDeployTimeout } from "./deploy.js";

const TOKEN_ID = "labgate@pve!cli";
const SECRET = "0b7e3c52-cli-test-secret-9a1f";

const POOLS = {
  networks: [
    {
      cidr: "192.168.3.0/24",
      gateway: "192.168.3.1",
      dns: ["8.8.8.8", "8.8.4.4"],
      dhcp: false,
      pools: [{ start: "192.168.3.30", end: "192.168.3.40" }],
    },
    {
      cidr: "192.168.2.0/24",
      gateway: "192.168.2.1",
      dns: ["8.8.8.8", "8.8.4.4"],
      dhcp: false,
      pools: [{ start: "192.168.2.30", end: "192.168.2.40" }],
    },
  ],
};

const cli = runCliInProcess;

describe("labgate deploy", () => {
  let dir: string;
  let sim: Awaited<ReturnType<typeof startProxmoxSim>>;
  let specPath: string;
  const saved = { ...process.env };

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "labgate-deploy-cli-"));
    sim = await startProxmoxSim({ tokenId: TOKEN_ID, secret: SECRET });
    sim.addTemplate(9000, {
      config: { scsi0: "local-lvm:base-9000-disk-0,size=3584M", boot: "order=scsi0" },
    });
    specPath = await useProxmoxDeploySpec({
      dir,
      url: sim.url,
      vm: { name: "ubuntu-big", cores: 16, memory_gib: 32, disk_gb: 1000 },
      network: { cidr: "192.168.3.0/24" },
      pools: POOLS,
      token: { id: TOKEN_ID, secret: SECRET },
    });
  });
  afterEach(() => endProxmoxDeploy(saved, sim, dir));

  it("check: a bad spec exits 2 and lists every finding", async () => {
    const bad = join(dir, "bad.json");
    await writeFile(
      bad,
      JSON.stringify({
        name: "win 1",
        os: { family: "windows" },
        cores: 0,
        memory_mib: 4096,
        network: {},
        extra: 1,
      }),
    );
    const r = await cli(["deploy", "check", bad, "--platform", "proxmox", "--json"]);
    expect(r.code).toBe(ExitCode.INVALID_INPUT);
    const doc = JSON.parse(r.stdout);
    expect(doc.ok).toBe(false);
    expect(doc.findings.map((f: { field: string }) => f.field).sort()).toEqual(["cores", "extra", "name"]);

    const rules = join(dir, "rules.json");
    await writeFile(
      rules,
      JSON.stringify({
        name: "win1",
        os: { family: "windows" },
        cores: 4,
        memory_mib: 4096,
        network: {},
        platform_options: { proxmox: { disk_bus: "virtio" } },
      }),
    );
    const r2 = await cli(["deploy", "check", rules, "--platform", "proxmox"]);
    expect(r2.code).toBe(ExitCode.INVALID_INPUT);
    for (const code of [
      "STATIC_ADDRESS_REQUIRED",
      "WINDOWS_DISK_BUS_UNSAFE",
      "WINDOWS_NO_TEMPLATE",
      "SOURCE_MISSING",
      "PROXMOX_TEMPLATE_REQUIRED",
      "PLATFORM_OPTION_MISSING",
    ]) {
      expect(r2.stdout).toContain(code);
    }
    expect(r2.stdout).toMatch(/fix: /);
  });

  it("plan: shows the pool address and the exact Proxmox calls without allocating", async () => {
    const r = await cli(["deploy", "plan", specPath, "--json"]);
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.stdout);
    expect(doc.plan.network).toMatchObject({
      ip: "192.168.3.30",
      gateway: "192.168.3.1",
      netmask: "255.255.255.0",
      dns: ["8.8.8.8", "8.8.4.4"],
    });
    expect(JSON.stringify(doc.plan.calls)).toContain("ip=192.168.3.30/24,gw=192.168.3.1");
    expect(sim.requests).toHaveLength(0);
    await expect(readFile(join(dir, "ip_pools.state.json"), "utf8")).rejects.toThrow();
  });

  it("takes the spec as --spec FILE (as lab does) or as the argument; both different, or none, exit 2", async () => {
    const positional = await cli(["deploy", "plan", specPath, "--json"]);
    const flagged = await cli(["deploy", "plan", "--spec", specPath, "--json"]);
    expect(flagged.code).toBe(0);
    expect(JSON.parse(flagged.stdout)).toEqual(JSON.parse(positional.stdout));
    expect((await cli(["deploy", "plan", specPath, "--spec", specPath])).code).toBe(0);

    const other = join(dir, "other.json");
    const both = await cli(["deploy", "plan", specPath, "--spec", other]);
    expect(both.code).toBe(ExitCode.INVALID_INPUT);
    expect(both.stderr).toContain("DEPLOY_SPEC_TWICE");
    expect(both.stderr).toContain(other);
    const none = await cli(["deploy", "check"]);
    expect(none.code).toBe(ExitCode.INVALID_INPUT);
    expect(none.stderr).toContain("DEPLOY_SPEC_MISSING");
    expect(sim.requests).toHaveLength(0);
  });

  it("--timeout is a duration as bench's: 90s, 90 (seconds, as before) and 1m", () => {
    expect(parseDeployTimeout("90s")).toBe(90_000);
    expect(parseDeployTimeout("90")).toBe(90_000);
    expect(parseDeployTimeout("1m")).toBe(60_000);
    expect(parseDeployTimeout("1h30m")).toBe(5_400_000);
    expect(parseDeployTimeout("24h")).toBe(86_400_000);
    expect(() => parseDeployTimeout("soon")).toThrow(/not a duration/);
  });

  it("--quiet keeps the data and drops the plan's info lines; --verbose adds the pool it used", async () => {
    const state = join(dir, "state");
    const loud = await cli(["deploy", "apply", specPath, "--state-dir", state]);
    expect(loud.code).toBe(ExitCode.NOT_CONFIRMED);
    expect(loud.stderr).toContain("Plan for ubuntu-big");
    const quiet = await cli(["deploy", "apply", specPath, "--state-dir", state, "--quiet"]);
    expect(quiet.code).toBe(ExitCode.NOT_CONFIRMED);
    expect(quiet.stderr).not.toContain("Plan for ubuntu-big");
    expect(quiet.stderr).toContain("DEPLOY_NOT_CONFIRMED");

    const plain = await cli(["deploy", "plan", specPath]);
    const verbose = await cli(["--verbose", "deploy", "plan", specPath]);
    expect(verbose.stdout).toBe(plain.stdout);
    expect(plain.stderr).not.toContain("IP pool:");
    expect(verbose.stderr).toContain(`IP pool: ${join(dir, "ip_pools.json")}`);
    expect(sim.requests).toHaveLength(0);
  });

  it("apply without a TTY and without --yes is refused with exit 7, nothing created", async () => {
    const r = await cli(["deploy", "apply", specPath, "--state-dir", join(dir, "state")]);
    expect(r.code).toBe(ExitCode.NOT_CONFIRMED);
    expect(r.stderr).toContain("DEPLOY_NOT_CONFIRMED");
    expect(r.stderr).toContain("Plan for ubuntu-big");
    expect(sim.requests).toHaveLength(0);
  });

  it("apply --yes deploys on the simulator, records it, and destroy releases the address", async () => {
    const state = join(dir, "state");
    const r = await cli([
      "deploy",
      "apply",
      specPath,
      "--yes",
      "--json",
      "--state-dir",
      state,
      "--timeout",
      "90s",
    ]);
    expect(r.stderr).not.toContain(SECRET);
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.stdout);
    expect(doc).toMatchObject({ platform: "proxmox", state: "running", network: { ip: "192.168.3.30" } });
    expect(sim.vms.get(100)?.config.ipconfig0).toBe("ip=192.168.3.30/24,gw=192.168.3.1");
    const ledger = JSON.parse(await readFile(join(dir, "ip_pools.state.json"), "utf8"));
    expect(JSON.stringify(ledger)).toContain("deploy/proxmox/ubuntu-big");

    const again = await cli(["deploy", "apply", specPath, "--yes", "--state-dir", state]);
    expect(again.code).toBe(ExitCode.STATE);

    const d = await cli(["deploy", "destroy", specPath, "--yes", "--json", "--state-dir", state]);
    expect(d.code).toBe(0);
    expect(JSON.parse(d.stdout).released).toEqual(["192.168.3.30"]);
    expect(sim.vms.has(100)).toBe(false);
    // No record: exit 4, as the README's exit-code table and deploy section say.
    expect(await cli(["deploy", "destroy", specPath, "--yes", "--state-dir", state])).toMatchObject({
      code: ExitCode.PRECONDITION,
    });
  });

  it("apply shows each of the plan's calls once: in the plan, not again under its step", async () => {
    const { plan } = JSON.parse((await cli(["deploy", "plan", specPath, "--json"])).stdout) as {
      plan: { calls: { target: string }[] };
    };
    expect(plan.calls.length).toBeGreaterThan(1);
    const r = await cli(["deploy", "apply", specPath, "--yes", "--state-dir", join(dir, "state")]);
    expect(r.code).toBe(0);
    // "→ GET …" lines trace each request as it is sent (real ids); the rest is what was shown before.
    const sent = r.stderr.split("\n").filter((l) => l.trimStart().startsWith("→ "));
    const shown = r.stderr
      .split("\n")
      .filter((l) => !sent.includes(l))
      .join("\n");
    expect(sent.length).toBeGreaterThan(1);
    for (const target of new Set(plan.calls.map((c) => c.target))) {
      const planned = plan.calls.filter((c) => c.target === target).length;
      expect(shown.split(target).length - 1, target).toBe(planned);
    }
    expect(r.stderr).toMatch(/commands: \d+ listed in the plan above/);
  });

  it("refuses a bad --timeout and a second apply of the same node while one runs, before any call", async () => {
    const state = join(dir, "state");
    const bad = await cli(["deploy", "apply", specPath, "--yes", "--timeout", "soon", "--state-dir", state]);
    expect(bad.code).toBe(ExitCode.INVALID_INPUT);
    expect(bad.stderr).toContain("DEPLOY_TIMEOUT_INVALID");
    // The bench's duration syntax: "1e10" is no duration, and says what to type.
    const sci = await cli(["deploy", "apply", specPath, "--yes", "--timeout", "1e10", "--state-dir", state]);
    expect(sci.code).toBe(ExitCode.INVALID_INPUT);
    expect(sci.stderr).toContain("DEPLOY_TIMEOUT_INVALID");
    expect(sci.stderr).toMatch(/what to do: .*10s/);
    // Past a day (and a timer's 2^31-1 ms) a wait would end at once instead of waiting.
    for (const timeout of ["86401", "24h1s", "0", "0s"]) {
      const long = await cli([
        "deploy",
        "apply",
        specPath,
        "--yes",
        "--timeout",
        timeout,
        "--state-dir",
        state,
      ]);
      expect(long.code).toBe(ExitCode.INVALID_INPUT);
      expect(long.stderr).toContain(timeout === "0" || timeout === "0s" ? "above 0" : "at most 86400");
    }
    await mkdir(state, { recursive: true });
    const release = await acquireFileLock(join(state, "proxmox-ubuntu-big.json.apply"));
    try {
      const busy = await cli(["deploy", "apply", specPath, "--yes", "--state-dir", state]);
      expect(busy.code).toBe(ExitCode.STATE);
      expect(busy.stderr).toContain("LOCK_TIMEOUT");
    } finally {
      await release();
    }
    expect(sim.requests).toHaveLength(0);
  });

  it("a failed create releases the address again", async () => {
    process.env.PROXMOX_TOKEN_SECRET = "not-the-secret";
    const r = await cli(["deploy", "apply", specPath, "--yes", "--state-dir", join(dir, "state")]);
    expect(r.code).toBe(ExitCode.EXTERNAL);
    expect(r.stderr).toContain("PLATFORM_AUTH_FAILED");
    const ledger = JSON.parse(await readFile(join(dir, "ip_pools.state.json"), "utf8"));
    expect(ledger.allocations).toEqual([]);
  });

  it("local: apply runs the node on a loopback pool address, destroy ends it and frees the address", async () => {
    const state = join(dir, "state");
    const port = await new Promise<number>((resolve) => {
      const probe = createServer().listen(0, "127.0.0.2", () => {
        const { port } = probe.address() as { port: number };
        probe.close(() => resolve(port));
      });
    });
    const localSpec = join(dir, "local.json");
    const serve = `require("node:http").createServer((_q, s) => s.end(process.env.LABGATE_IP)).listen(${port}, process.argv[1]);`;
    await writeFile(
      localSpec,
      JSON.stringify({
        name: "node1",
        os: { family: "linux" },
        cores: 1,
        memory_mib: 128,
        network: {},
        platform_options: {
          local: { command: [process.execPath, "-e", serve, "{ip}"], ready_port: port, log_dir: dir },
        },
      }),
    );
    const plan = await cli(["deploy", "plan", localSpec, "-p", "local", "--state-dir", state, "--json"]);
    expect(plan.code).toBe(0);
    expect(JSON.parse(plan.stdout).plan.network).toMatchObject({ ip: "127.0.0.2", gateway: "127.0.0.1" });
    const r = await cli([
      "deploy",
      "apply",
      localSpec,
      "-p",
      "local",
      "--yes",
      "--json",
      "--state-dir",
      state,
    ]);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ state: "running", addresses: ["127.0.0.2"] });
    expect(await (await fetch(`http://127.0.0.2:${port}/`)).text()).toBe("127.0.0.2");
    const ledger = JSON.parse(await readFile(join(state, "local-ip-pool.state.json"), "utf8"));
    expect(ledger.allocations.map((a: { owner: string }) => a.owner)).toEqual(["deploy/local/node1"]);

    const d = await cli([
      "deploy",
      "destroy",
      localSpec,
      "-p",
      "local",
      "--yes",
      "--json",
      "--state-dir",
      state,
    ]);
    expect(d.code).toBe(0);
    expect(JSON.parse(d.stdout).released).toEqual(["127.0.0.2"]);
    await expect(fetch(`http://127.0.0.2:${port}/`)).rejects.toThrow();
    const bad = await cli(["deploy", "check", localSpec, "-p", "local", "--json"]);
    expect(bad.code).toBe(0);
    await writeFile(
      localSpec,
      JSON.stringify({
        ...JSON.parse(await readFile(localSpec, "utf8")),
        network: { cidr: "192.168.3.0/24" },
      }),
    );
    const refused = await cli(["deploy", "apply", localSpec, "-p", "local", "--yes", "--state-dir", state]);
    expect(refused.code).toBe(ExitCode.INVALID_INPUT);
    expect(refused.stdout).toContain("LOCAL_NETWORK_NOT_LOOPBACK");
  });

  it("asks on a terminal: n refuses, y goes ahead", async () => {
    const run = async (answer: string) => {
      const stdin = Object.assign(new PassThrough(), { isTTY: true });
      const stdout = new PassThrough();
      const stderr = new PassThrough();
      let err = "";
      stderr.on("data", (c) => (err += c));
      stdout.resume();
      stdin.end(`${answer}\n`);
      const code = await deployCommand(
        "apply",
        specPath,
        { stateDir: join(dir, "state"), timeout: "20" },
        { stdin, stdout, stderr, env: process.env },
      ).catch((e) => reportError(e, false));
      return { code, err };
    };
    const no = await run("n");
    expect(no.code).toBe(ExitCode.NOT_CONFIRMED);
    expect(sim.requests).toHaveLength(0);
    const yes = await run("y");
    expect(yes.err).toContain("[y/N]");
    expect(yes.code).toBe(0);
    expect(sim.vms.get(100)?.status).toBe("running");
  });
});
