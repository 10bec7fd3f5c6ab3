import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { IpPool, readLedger } from "@labgate/core";
import { afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { ensureBuiltCli } from "../test-support/built-cli.js";

// SIGKILL at random moments while several processes allocate and release: whatever instant a
// process dies at (before the lock, holding it, between temp file and rename), the ledger stays
// valid and the next process carries on without anyone removing a lock or a temp file by hand.

const CHURN = join(dirname(fileURLToPath(import.meta.url)), "test-support/ip-churn.mjs");
const NETWORK = "192.168.3.0/24";
const CONFIG = {
  // 192.168.x is data here: nothing may be probed on the wire.
  probe: "none",
  networks: [
    {
      cidr: NETWORK,
      gateway: "192.168.3.1",
      dns: ["8.8.8.8"],
      dhcp: false,
      pools: [{ start: "192.168.3.30", end: "192.168.3.35" }],
    },
  ],
};

let bin: string;
let dir: string;
let configPath: string;
let statePath: string;
const children: ChildProcess[] = [];

beforeAll(() => {
  bin = ensureBuiltCli();
}, 240_000);

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "labgate-ipkill-"));
  configPath = join(dir, "pools.json");
  statePath = join(dir, "state.json");
  await writeFile(configPath, JSON.stringify(CONFIG));
});

afterEach(async () => {
  for (const child of children.splice(0)) child.kill("SIGKILL");
  await rm(dir, { recursive: true, force: true });
});

interface Churner {
  child: ChildProcess;
  /** Resolves once the process has allocated `n` times (so it got past any stale lock). */
  progressed(n: number): Promise<void>;
  exited: Promise<void>;
}

function startChurner(owner: string): Churner {
  const child = spawn(process.execPath, [CHURN, configPath, statePath, NETWORK, owner], {
    cwd: dir,
    stdio: ["ignore", "pipe", "pipe"],
  });
  children.push(child);
  let rounds = 0;
  let stderr = "";
  const waiters: { n: number; resolve: () => void }[] = [];
  child.stdout?.on("data", (chunk: Buffer) => {
    rounds += String(chunk)
      .split("\n")
      .filter((l) => l.startsWith("progress")).length;
    for (const w of waiters.filter((x) => rounds >= x.n)) w.resolve();
  });
  child.stderr?.on("data", (chunk) => (stderr += chunk));
  const exited = new Promise<void>((resolve) => child.on("close", () => resolve()));
  return {
    child,
    exited,
    progressed: (n) =>
      new Promise<void>((resolve, reject) => {
        if (rounds >= n) return resolve();
        waiters.push({ n, resolve });
        void exited.then(() => reject(new Error(`churner ${owner} exited early:\n${stderr}`)));
      }),
  };
}

function runCli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bin, ...args], { cwd: dir, stdio: ["ignore", "pipe", "pipe"] });
    children.push(child);
    let stdout = "";
    let stderr = "";
    child.stdout?.on("data", (c) => (stdout += c));
    child.stderr?.on("data", (c) => (stderr += c));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

describe("labgate ip when processes are killed at random moments", () => {
  it("keeps the ledger valid, recovers every stale lock and removes what the dead left", async () => {
    const pool = new IpPool({ configPath, statePath });
    const keep = [await pool.allocate(NETWORK, "keep1"), await pool.allocate(NETWORK, "keep2")];
    const owners = ["churn1", "churn2", "churn3"];
    let roundsThatLeftALock = 0;

    for (let round = 0; round < 5; round++) {
      const churners = owners.map(startChurner);
      // Each new process must get through whatever lock the previous round's victims left.
      await Promise.all(churners.map((c) => c.progressed(2)));
      await new Promise((r) => setTimeout(r, Math.random() * 100));
      for (const c of churners) c.child.kill("SIGKILL");
      await Promise.all(churners.map((c) => c.exited));

      const names = await readdir(dir);
      if (names.includes("state.json.lock")) roundsThatLeftALock++;
      // Only the ledger, its lock and temp files of the dead may be there; the ledger is whole.
      for (const name of names) {
        expect(name).toMatch(
          /^(pools\.json|state\.audit\.jsonl|state\.json(\.lock(\.break)?(\.[0-9]+\.[0-9a-f]{8})?)?|\.state\.json\.[0-9]+\.[0-9a-f]{12}\.tmp)$/,
        );
      }
      const ledger = await readLedger(statePath);
      expect(ledger.allocations.filter((a) => a.owner.startsWith("keep"))).toEqual(keep);
      for (const owner of owners) {
        expect(ledger.allocations.filter((a) => a.owner === owner).length).toBeLessThanOrEqual(1);
      }
    }
    // The kills really hit the critical section; otherwise this test would prove nothing about recovery.
    expect(roundsThatLeftALock).toBeGreaterThan(0);

    const next = await runCli([
      "ip",
      "allocate",
      "--network",
      NETWORK,
      "--owner",
      "after",
      "--ip-pools",
      configPath,
      "--ip-state",
      statePath,
      "--json",
    ]);
    expect(next.code, next.stderr).toBe(0);
    const after = JSON.parse(next.stdout) as { ip: string };
    const ledger = await readLedger(statePath);
    expect(ledger.allocations.find((a) => a.owner === "after")?.ip).toBe(after.ip);
    expect(new Set(ledger.allocations.map((a) => a.ip)).size).toBe(ledger.allocations.length);
    expect((await readdir(dir)).sort()).toEqual(["pools.json", "state.audit.jsonl", "state.json"]);
    expect(JSON.parse(await readFile(statePath, "utf8"))).toEqual(ledger);

    // Processes killed at random moments appended to the audit log: it holds whole lines only
    // (every one parses), and the owners nobody killed appear exactly as the ledger has them.
    const text = await readFile(join(dir, "state.audit.jsonl"), "utf8");
    expect(text.endsWith("\n")).toBe(true);
    const entries = text
      .trimEnd()
      .split("\n")
      .map((l) => JSON.parse(l) as { action: string; address: string; owner: string });
    expect(entries.length).toBeGreaterThan(30);
    for (const owner of ["keep1", "keep2", "after"]) {
      const held = ledger.allocations.find((a) => a.owner === owner)?.ip;
      expect(entries.filter((e) => e.owner === owner).map((e) => `${e.action} ${e.address}`)).toEqual([
        `allocated ${held}`,
      ]);
    }
  }, 300_000);
});
