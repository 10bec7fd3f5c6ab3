import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { isProcessAlive, pollUntil, readLedger } from "@labgate/core";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { ensureBuiltCli } from "../test-support/built-cli.js";

// These tests run the compiled `labgate` binary as separate OS processes: the only honest way to
// show that the inter-process lock keeps concurrent allocations apart and survives a SIGKILL.

interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

let bin: string;
let dir: string;
let files: string[];
const children: ChildProcess[] = [];

const CONFIG = {
  // 192.168.x is data here: nothing may be probed on the wire.
  probe: "none",
  networks: [
    {
      cidr: "192.168.3.0/24",
      gateway: "192.168.3.1",
      dns: ["8.8.8.8", "8.8.4.4"],
      dhcp: false,
      pools: [{ start: "192.168.3.30", end: "192.168.3.35" }],
    },
  ],
};

function start(
  args: string[],
  env: Record<string, string> = {},
): { child: ChildProcess; done: Promise<Run> } {
  const child = spawn(process.execPath, [bin, ...args], {
    cwd: dir,
    env: { ...process.env, LABGATE_TEST_HOOKS: "", LABGATE_TEST_HOLD_LOCK_MS: "", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  children.push(child);
  let stdout = "";
  let stderr = "";
  child.stdout?.on("data", (c) => (stdout += c));
  child.stderr?.on("data", (c) => (stderr += c));
  const done = new Promise<Run>((resolve, reject) => {
    child.on("error", reject);
    child.on("close", (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
  return { child, done };
}

const run = (args: string[], env?: Record<string, string>) => start(args, env).done;

beforeAll(() => {
  bin = ensureBuiltCli();
}, 240_000);

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "labgate-ipmp-"));
  await writeFile(join(dir, "pools.json"), JSON.stringify(CONFIG));
  files = ["--ip-pools", join(dir, "pools.json"), "--ip-state", join(dir, "state.json")];
});

afterEach(async () => {
  for (const child of children.splice(0))
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  await rm(dir, { recursive: true, force: true });
});

afterAll(() => {
  for (const child of children) child.kill("SIGKILL");
});

describe("labgate ip across processes", () => {
  it("12 processes allocating at once through the CLI never get the same address", async () => {
    const owners = Array.from({ length: 12 }, (_, i) => `vm${i}`);
    const runs = await Promise.all(
      owners.map((owner) =>
        run(["ip", "allocate", "--network", "192.168.3.0/24", "--owner", owner, ...files, "--json"]),
      ),
    );
    for (const r of runs) expect(r, r.stderr).toMatchObject({ code: 0 });
    const results = runs.map((r) => JSON.parse(r.stdout) as { ip: string; owner: string; source: string });
    const ips = results.map((r) => r.ip);
    expect(new Set(ips).size).toBe(12);
    // the 6 pool addresses and the 6 highest fallbacks, whichever process got which
    expect(new Set(ips)).toEqual(
      new Set([30, 31, 32, 33, 34, 35, 254, 253, 252, 251, 250, 249].map((h) => `192.168.3.${h}`)),
    );
    const ledger = await readLedger(join(dir, "state.json"));
    expect(ledger.allocations.map((a) => `${a.owner}=${a.ip}`).sort()).toEqual(
      results.map((r) => `${r.owner}=${r.ip}`).sort(),
    );

    // Again, concurrently: every owner gets its own address back, and new owners still no duplicate.
    const again = await Promise.all(
      [...owners.slice(0, 6), "late1", "late2"].map((owner) =>
        run(["ip", "allocate", "--network", "192.168.3.0/24", "--owner", owner, ...files, "--json"]),
      ),
    );
    const second = again.map((r) => JSON.parse(r.stdout) as { ip: string; owner: string });
    for (const r of second.slice(0, 6)) expect(r.ip).toBe(results.find((x) => x.owner === r.owner)?.ip);
    expect(new Set([...ips, ...second.slice(6).map((r) => r.ip)]).size).toBe(14);
    expect((await readLedger(join(dir, "state.json"))).allocations).toHaveLength(14);
  }, 60_000);

  it("a process killed while it holds the lock leaves a valid ledger, and the next allocation recovers the lock", async () => {
    const statePath = join(dir, "state.json");
    for (const owner of ["a", "b"]) {
      expect(
        (await run(["ip", "allocate", "--network", "192.168.3.0/24", "--owner", owner, ...files])).code,
      ).toBe(0);
    }
    const before = await readFile(statePath, "utf8");

    const victim = start(["ip", "allocate", "--network", "192.168.3.0/24", "--owner", "victim", ...files], {
      LABGATE_TEST_HOOKS: "1",
      LABGATE_TEST_HOLD_LOCK_MS: "60000",
    });
    const lockPath = `${statePath}.lock`;
    // Held means linked AND its temp file removed: the lock appears a moment before tryCreate's cleanup,
    // and a kill in between would leave state.json.lock.<pid>.<hex> behind (not what this test is about).
    await pollUntil(
      "Waiting for the victim to hold the lock",
      async () => {
        const owner = await readFile(lockPath, "utf8").catch(() => undefined);
        const temp = (await readdir(dir)).some((name) => name.startsWith("state.json.lock."));
        return owner !== undefined && JSON.parse(owner).pid === victim.child.pid && !temp;
      },
      (held) => held,
      { timeoutMs: 20_000, intervalMs: 20 },
    );
    victim.child.kill("SIGKILL");
    expect(await victim.done).toMatchObject({ signal: "SIGKILL" });
    expect(isProcessAlive(victim.child.pid as number)).toBe(false);

    // The lock is left behind by the dead process; the ledger is untouched and still valid.
    expect(JSON.parse(await readFile(lockPath, "utf8")).pid).toBe(victim.child.pid);
    expect(await readFile(statePath, "utf8")).toBe(before);
    const ledger = await readLedger(statePath);
    expect(ledger.allocations.map((a) => a.owner)).toEqual(["a", "b"]);
    expect((await readdir(dir)).sort()).toEqual([
      "pools.json",
      "state.audit.jsonl",
      "state.json",
      "state.json.lock",
    ]);

    // The next process breaks the stale lock on its own and takes the address the victim never recorded.
    // Exit 0 is the proof: waiting instead would end in LOCK_TIMEOUT (the dead holder's lock is never
    // released and is younger than the age that makes an unverifiable lock stale).
    const next = await run([
      "ip",
      "allocate",
      "--network",
      "192.168.3.0/24",
      "--owner",
      "next",
      ...files,
      "--json",
    ]);
    expect(next.code, next.stderr).toBe(0);
    expect(JSON.parse(next.stdout)).toMatchObject({ ip: "192.168.3.32", owner: "next" });
    expect((await readdir(dir)).sort()).toEqual(["pools.json", "state.audit.jsonl", "state.json"]);
    expect((await readLedger(statePath)).allocations.map((a) => a.owner)).toEqual(["a", "b", "next"]);
    // The victim decided but never wrote: the audit log holds only what reached the ledger.
    const log = (await readFile(join(dir, "state.audit.jsonl"), "utf8")).trimEnd().split("\n");
    expect(log.map((l) => JSON.parse(l).owner)).toEqual(["a", "b", "next"]);
  }, 60_000);

  it("ignores the hold-lock hook unless test hooks are switched on", async () => {
    const startedAt = Date.now();
    const r = await run(["ip", "allocate", "--network", "192.168.3.0/24", "--owner", "x", ...files], {
      LABGATE_TEST_HOLD_LOCK_MS: "60000",
    });
    expect(r.code).toBe(0);
    expect(Date.now() - startedAt).toBeLessThan(15_000);
  }, 30_000);
});
