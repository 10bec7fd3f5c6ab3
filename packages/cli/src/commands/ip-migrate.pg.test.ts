import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ExitCode } from "@labgate/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  startTestPostgres,
  type TestPostgres,
} from "../../../core/src/ip-pool/test-support/postgres-server.js";
import { seedPoolConfig } from "../../../core/src/ip-pool/test-support/seed-network.js";
import { runCliInProcess as cli } from "../test-support/in-process-cli.js";

// Issue 16.4 through the CLI: a team moves its file ledger into PostgreSQL and allocates from it.

let pg: TestPostgres;
let dir: string;
let config: string[];
beforeAll(async () => {
  pg = await startTestPostgres();
  dir = await mkdtemp(join(tmpdir(), "labgate-ipmigrate-"));
  await writeFile(
    join(dir, "pools.json"),
    JSON.stringify({ probe: "none", networks: [{ ...seedPoolConfig().networks[0], dns: [] }] }),
  );
  config = ["--ip-pools", join(dir, "pools.json")];
}, 60_000);
afterAll(async () => {
  await pg?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
}, 60_000);

describe("labgate ip migrate and --ledger", () => {
  it("moves the file ledger and its history, then every command works on the shared ledger", async () => {
    const state = ["--ip-state", join(dir, "state.json")];
    await cli(["ip", "allocate", "--network", "192.168.3.0/24", "--owner", "web1", ...config, ...state]);
    await cli(["ip", "reserve", "--ip", "192.168.3.35", "--owner", "printer", ...config, ...state]);

    const moved = await cli(["ip", "migrate", "--to", pg.url, ...config, ...state, "--json"]);
    expect(moved.code, moved.stderr).toBe(ExitCode.OK);
    expect(JSON.parse(moved.stdout)).toMatchObject({ allocations: 2, conflicts: 0, auditEntries: 4 });

    // The file stays as a record and refuses changes, pointing at the shared ledger.
    const stale = await cli([
      "ip",
      "allocate",
      "--network",
      "192.168.3.0/24",
      "--owner",
      "web2",
      ...config,
      ...state,
    ]);
    expect(stale.code).toBe(ExitCode.STATE);
    expect(stale.stderr).toContain("was moved to");
    expect(JSON.parse(await readFile(join(dir, "state.json"), "utf8")).migratedTo).toBeDefined();

    const shared = ["--ledger", pg.url];
    const web2 = await cli([
      "ip",
      "allocate",
      "--network",
      "192.168.3.0/24",
      "--owner",
      "web2",
      ...config,
      ...shared,
      "--json",
    ]);
    expect(web2.code, web2.stderr).toBe(ExitCode.OK);
    expect(JSON.parse(web2.stdout).ip).toBe("192.168.3.31");
    const list = JSON.parse((await cli(["ip", "list", ...config, ...shared, "--json"])).stdout);
    expect(list.map((a: { owner: string }) => a.owner)).toEqual(["web1", "web2", "printer"]);
    const log = JSON.parse((await cli(["ip", "log", ...config, ...shared, "--json"])).stdout);
    expect(log.map((e: { command: string; action: string }) => `${e.command}:${e.action}`)).toEqual([
      "allocate:allocated",
      "reserve:reserved",
      "migrate:allocated",
      "migrate:reserved",
      "allocate:allocated",
    ]);

    // A second migrate into the now-filled ledger is refused; nothing is duplicated.
    await writeFile(join(dir, "other.json"), JSON.stringify({ version: 1, allocations: [] }));
    const again = await cli([
      "ip",
      "migrate",
      "--to",
      pg.url,
      ...config,
      "--ip-state",
      join(dir, "other.json"),
    ]);
    expect(again.code).toBe(ExitCode.STATE);
    expect(again.stderr).toContain("migrate only fills an empty one");
  }, 120_000);

  it("refuses a --ledger that is not a postgres:// URL, and --ledger with --state", async () => {
    const bad = await cli(["ip", "list", ...config, "--ledger", "mysql://x/y"]);
    expect(bad.code).toBe(ExitCode.INVALID_INPUT);
    const both = await cli(["ip", "list", ...config, "--ledger", pg.url, "--ip-state", join(dir, "s.json")]);
    expect(both.code).toBe(ExitCode.INVALID_INPUT);
  });
});
