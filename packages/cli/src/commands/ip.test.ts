import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ExitCode } from "@labgate/core";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { seedPoolConfig } from "../../../core/src/ip-pool/test-support/seed-network.js";
import { runCliInProcess } from "../test-support/in-process-cli.js";

const cli = runCliInProcess;

const CONFIG = {
  // These tests are about the ledger; 192.168.x is data here and nothing may be sent to it.
  probe: "none",
  defaultDns: ["9.9.9.9"],
  networks: [
    seedPoolConfig().networks[0],
    {
      cidr: "10.0.0.0/30",
      gateway: "10.0.0.1",
      dns: [],
      dhcp: false,
      pools: [{ start: "10.0.0.2", end: "10.0.0.2" }],
    },
  ],
};

let dir: string;
let files: string[];
/** `labgate ip allocate` on the seed network, with this test's pool and ledger files. */
const allocate = (owner: string, ...flags: string[]) =>
  cli(["ip", "allocate", "--network", "192.168.3.0/24", "--owner", owner, ...files, ...flags]);
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "labgate-ipcli-"));
  await writeFile(join(dir, "pools.json"), JSON.stringify(CONFIG));
  files = ["--ip-pools", join(dir, "pools.json"), "--ip-state", join(dir, "state.json")];
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("labgate ip allocate", () => {
  it("--json prints one object with everything a static network config needs", async () => {
    const r = await allocate("web1", "--json");
    expect(r.code).toBe(ExitCode.OK);
    expect(JSON.parse(r.stdout)).toEqual({
      ip: "192.168.3.30",
      network: "192.168.3.0/24",
      prefix: 24,
      netmask: "255.255.255.0",
      gateway: "192.168.3.1",
      dns: ["8.8.8.8", "8.8.4.4"],
      owner: "web1",
      source: "pool",
      allocatedAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
    });
    expect(r.stderr).toContain("Allocated 192.168.3.30 to web1");
  });

  it("prints one readable line on stdout and explanations on stderr; a second call returns the same address", async () => {
    const first = await allocate("web1");
    expect(first.stdout).toBe(
      "192.168.3.30/24 netmask 255.255.255.0 gateway 192.168.3.1 dns 8.8.8.8,8.8.4.4 owner web1 source pool\n",
    );
    expect(first.stderr).toContain(join(dir, "state.json"));
    const again = await allocate("web1");
    expect(again.stdout).toBe(first.stdout);
    expect(again.stderr).toContain("already holds 192.168.3.30");
  });

  it("explains a fallback address for a network that is not configured", async () => {
    const r = await cli(["ip", "allocate", "--network", "172.20.0.0/16", "--owner", "x", ...files, "--json"]);
    expect(JSON.parse(r.stdout)).toMatchObject({
      ip: "172.20.255.254",
      gateway: "172.20.0.1",
      dns: ["9.9.9.9"],
      source: "fallback",
    });
    expect(r.stderr).toContain("fallback address 172.20.255.254");
  });

  it.each([
    [["--network", "192.168.3.0/33"], ExitCode.INVALID_INPUT, "INVALID_CIDR"],
    [["--network", "192.168.3.300/24"], ExitCode.INVALID_INPUT, "INVALID_CIDR"],
    [["--network", "192.168.3.9/24"], ExitCode.INVALID_INPUT, "CIDR_HOST_BITS_SET"],
    [["--network", "192.168.3.0/25"], ExitCode.INVALID_INPUT, "NETWORK_CONFLICT"],
    [["--network", "10.9.9.9/32"], ExitCode.INVALID_INPUT, "NETWORK_TOO_SMALL"],
  ])("%j exits %i with %s", async (extra, code, errorCode) => {
    const r = await cli(["ip", "allocate", ...extra, "--owner", "x", ...files, "--json"]);
    expect(r.code).toBe(code);
    expect(JSON.parse(r.stdout)).toMatchObject({ code: errorCode });
    expect(r.stderr).toContain(`error [${errorCode}]`);
  });

  it("exits 6 when the subnet has no usable address left", async () => {
    expect((await cli(["ip", "allocate", "--network", "10.0.0.0/30", "--owner", "a", ...files])).code).toBe(
      0,
    );
    const r = await cli(["ip", "allocate", "--network", "10.0.0.0/30", "--owner", "b", ...files]);
    expect(r.code).toBe(ExitCode.EXHAUSTED);
    expect(r.stderr).toContain("SUBNET_EXHAUSTED");
    expect(r.stdout).toBe("");
  });

  it("exits 2 for a broken config and names file, network and field", async () => {
    await writeFile(
      join(dir, "pools.json"),
      JSON.stringify({ networks: [{ ...CONFIG.networks[0], gateway: "192.168.4.1" }] }),
    );
    const r = await allocate("x");
    expect(r.code).toBe(ExitCode.INVALID_INPUT);
    expect(r.stderr).toContain(`${join(dir, "pools.json")}: network 192.168.3.0/24, field "gateway"`);
  });

  it("exits 2 when the config does not exist", async () => {
    const r = await cli([
      "ip",
      "allocate",
      "--network",
      "192.168.3.0/24",
      "--owner",
      "x",
      "--ip-pools",
      join(dir, "no.json"),
    ]);
    expect(r.code).toBe(ExitCode.INVALID_INPUT);
    expect(r.stderr).toContain("CONFIG_NOT_FOUND");
  });

  it("exits 3 for a corrupt ledger and leaves it as it was", async () => {
    await writeFile(join(dir, "state.json"), "{ not json");
    const r = await allocate("x");
    expect(r.code).toBe(ExitCode.STATE);
    expect(r.stderr).toContain(join(dir, "state.json"));
    expect(await readFile(join(dir, "state.json"), "utf8")).toBe("{ not json");
  });

  it("exits 2 when --owner is missing", async () => {
    const r = await cli(["ip", "allocate", "--network", "192.168.3.0/24", ...files]);
    expect(r.code).toBe(ExitCode.INVALID_INPUT);
  });
});

describe("labgate ip list / reserve / release", () => {
  it("lists as a table, filters, and prints a JSON array with --json", async () => {
    await allocate("web1");
    await cli(["ip", "allocate", "--network", "172.20.0.0/16", "--owner", "web2", ...files]);
    const table = await cli(["ip", "list", ...files]);
    const lines = table.stdout.trimEnd().split("\n");
    expect(lines[0]).toMatch(/^IP\s+NETWORK\s+OWNER\s+SOURCE\s+GATEWAY\s+ALLOCATED$/);
    expect(lines.slice(1).map((l) => l.split(/\s+/).slice(0, 4))).toEqual([
      ["172.20.255.254", "172.20.0.0/16", "web2", "fallback"],
      ["192.168.3.30", "192.168.3.0/24", "web1", "pool"],
    ]);
    expect(table.stderr).toContain("2 addresses recorded");
    const json = await cli(["ip", "list", "--network", "192.168.3.0/24", ...files, "--json"]);
    expect(JSON.parse(json.stdout).map((a: { owner: string }) => a.owner)).toEqual(["web1"]);
  });

  it("an empty ledger lists nothing on stdout and says so on stderr", async () => {
    const r = await cli(["ip", "list", ...files]);
    expect(r).toMatchObject({ code: 0, stdout: "" });
    expect(r.stderr).toContain("No addresses recorded");
    expect(JSON.parse((await cli(["ip", "list", ...files, "--json"])).stdout)).toEqual([]);
  });

  it("reserve holds an address that allocate then skips; release --ip frees it", async () => {
    const reserved = await cli([
      "ip",
      "reserve",
      "--ip",
      "192.168.3.30",
      "--owner",
      "printer",
      ...files,
      "--json",
    ]);
    expect(JSON.parse(reserved.stdout)).toMatchObject({
      ip: "192.168.3.30",
      reserved: true,
      owner: "printer",
    });
    const a = await allocate("web1", "--json");
    expect(JSON.parse(a.stdout).ip).toBe("192.168.3.31");
    const taken = await cli(["ip", "reserve", "--ip", "192.168.3.31", "--owner", "other", ...files]);
    expect(taken.code).toBe(ExitCode.INVALID_INPUT);
    expect(taken.stderr).toContain("ADDRESS_TAKEN");
    const released = await cli(["ip", "release", "--ip", "192.168.3.30", ...files, "--json"]);
    expect(JSON.parse(released.stdout)).toMatchObject([{ ip: "192.168.3.30", owner: "printer" }]);
  });

  it("release --owner frees all of an owner's addresses; an unknown owner exits 2", async () => {
    await allocate("web1");
    await cli(["ip", "allocate", "--network", "172.20.0.0/16", "--owner", "web1", ...files]);
    const r = await cli(["ip", "release", "--owner", "web1", ...files]);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain("Released 2 addresses");
    const unknown = await cli(["ip", "release", "--owner", "web1", ...files, "--json"]);
    expect(unknown.code).toBe(ExitCode.INVALID_INPUT);
    expect(JSON.parse(unknown.stdout)).toMatchObject({ code: "UNKNOWN_OWNER" });
  });

  it("--dry-run shows what allocate, reserve and release would do and writes nothing", async () => {
    const a = await allocate("web1", "--dry-run");
    expect(a.stdout).toContain("192.168.3.30/24");
    expect(a.stderr).toContain("Would allocate 192.168.3.30");
    expect(a.stderr).toContain("nothing was written");
    const r = await cli([
      "ip",
      "reserve",
      "--ip",
      "192.168.3.99",
      "--owner",
      "nas",
      ...files,
      "--dry-run",
      "--json",
    ]);
    expect(JSON.parse(r.stdout)).toMatchObject({ ip: "192.168.3.99", reserved: true });
    await expect(readFile(join(dir, "state.json"), "utf8")).rejects.toMatchObject({ code: "ENOENT" });
    await allocate("web1");
    const before = await readFile(join(dir, "state.json"), "utf8");
    const rel = await cli(["ip", "release", "--owner", "web1", ...files, "--dry-run", "--json"]);
    expect(JSON.parse(rel.stdout)).toMatchObject([{ ip: "192.168.3.30" }]);
    expect(rel.stderr).toContain("Would release 1 address");
    expect(await readFile(join(dir, "state.json"), "utf8")).toBe(before);
    // a dry run still reports the errors the real command would hit
    const bad = await cli(["ip", "release", "--owner", "ghost", ...files, "--dry-run"]);
    expect(bad.code).toBe(ExitCode.INVALID_INPUT);
  });

  it("help explains the commands, /31 and /32 and the exit codes", async () => {
    const r = await cli(["ip", "allocate", "--help"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("RFC 3021");
    const group = await cli(["ip", "--help"]);
    expect(group.stdout).toMatch(/allocate[\s\S]*release[\s\S]*list[\s\S]*reserve/);
    expect(group.stdout).toContain("6 no address left");
  });

  it.each([
    [[]],
    [["--owner", "a", "--ip", "192.168.3.30"]],
    [["--ip", "192.168.3.30", "--network", "192.168.3.0/24"]],
  ])("release %j is a usage error (exit 2)", async (extra) => {
    const r = await cli(["ip", "release", ...extra, ...files]);
    expect(r.code).toBe(ExitCode.INVALID_INPUT);
    expect(r.stderr).toContain("RELEASE_SELECTOR");
  });
});

describe("labgate ip log", () => {
  it("shows every change oldest first, filters by owner, address and time, and prints JSON with --json", async () => {
    for (const owner of ["web1", "web2"]) {
      await cli(["ip", "allocate", "--network", "192.168.3.0/24", "--owner", owner, ...files]);
    }
    await cli(["ip", "release", "--owner", "web1", ...files]);

    const all = await cli(["ip", "log", ...files]);
    expect(all.code, all.stderr).toBe(ExitCode.OK);
    const rows = all.stdout.trimEnd().split("\n");
    expect(rows[0]).toMatch(/^TIME\s+ACTION\s+ADDRESS\s+OWNER\s+SOURCE\s+BY\s+COMMAND\s+REASON$/);
    expect(rows.slice(1).map((r) => r.split(/\s+/).slice(1, 4))).toEqual([
      ["allocated", "192.168.3.30", "web1"],
      ["allocated", "192.168.3.31", "web2"],
      ["released", "192.168.3.30", "web1"],
    ]);
    expect(all.stderr).toContain(`3 of 3 changes in ${join(dir, "state.audit.jsonl")}`);

    const web1 = JSON.parse((await cli(["ip", "log", "--owner", "web1", ...files, "--json"])).stdout);
    expect(web1.map((e: { action: string }) => e.action)).toEqual(["allocated", "released"]);
    const byIp = JSON.parse((await cli(["ip", "log", "--ip", "192.168.3.31", ...files, "--json"])).stdout);
    expect(byIp.map((e: { owner: string }) => e.owner)).toEqual(["web2"]);
    expect(JSON.parse((await cli(["ip", "log", "--since", "1h", ...files, "--json"])).stdout)).toHaveLength(
      3,
    );
    const future = new Date(Date.now() + 3_600_000).toISOString();
    expect(JSON.parse((await cli(["ip", "log", "--since", future, ...files, "--json"])).stdout)).toEqual([]);
  });

  it.each(["yesterday", "10x", "99999999d", "-5m"])(
    "--since %s is a clear usage error (exit 2)",
    async (since) => {
      const r = await cli(["ip", "log", "--since", since, ...files]);
      expect(r.code).toBe(ExitCode.INVALID_INPUT);
      expect(r.stderr).toContain("not a time or a duration");
    },
  );

  it("an empty log says so on stderr and prints nothing on stdout", async () => {
    const r = await cli(["ip", "log", ...files]);
    expect(r).toMatchObject({ code: ExitCode.OK, stdout: "" });
    expect(r.stderr).toContain("No changes recorded yet");
  });
});
