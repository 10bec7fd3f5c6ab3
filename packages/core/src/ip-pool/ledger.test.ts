import { mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ExitCode } from "../exit-codes.js";
import { emptyLedger, readLedger, validateLedger, writeLedger } from "./ledger.js";
import type { IpAllocation } from "./types.js";

const entry = (over: Partial<Record<keyof IpAllocation, unknown>> & Record<string, unknown> = {}) => ({
  ip: "192.168.3.30",
  network: "192.168.3.0/24",
  prefix: 24,
  netmask: "255.255.255.0",
  gateway: "192.168.3.1",
  dns: ["8.8.8.8"],
  owner: "web1",
  source: "pool",
  allocatedAt: "2026-11-22T12:00:00.000Z",
  ...over,
});

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "labgate-ledger-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("ledger file", () => {
  it("a missing ledger is empty", async () => {
    expect(await readLedger(join(dir, "none.json"))).toEqual(emptyLedger());
  });

  it("writes mode 0600, sorted by address, creating the directory, and reads back the same", async () => {
    const path = join(dir, "sub", "state.json");
    const ledger = {
      version: 1 as const,
      allocations: [
        entry({ ip: "192.168.3.100", owner: "b" }),
        entry({ ip: "192.168.3.9", owner: "a", reserved: true }),
      ],
    };
    await writeLedger(path, ledger as never);
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    const back = await readLedger(path);
    expect(back.allocations.map((a) => a.ip)).toEqual(["192.168.3.9", "192.168.3.100"]);
    expect(back.allocations[0]).toMatchObject({ owner: "a", reserved: true });
  });

  it("reports a ledger that is not JSON with its path and leaves it alone", async () => {
    const path = join(dir, "state.json");
    await writeFile(path, '{"version": 1, "allocations": [');
    await expect(readLedger(path)).rejects.toMatchObject({
      code: "STATE_CORRUPT",
      exitCode: ExitCode.STATE,
      message: expect.stringContaining(path),
    });
    expect(await readFile(path, "utf8")).toBe('{"version": 1, "allocations": [');
  });
});

describe("validateLedger: hand-broken files", () => {
  const cases: [string, unknown, string][] = [
    ["not an object", [], "(root)"],
    ["a future version", { version: 2, allocations: [] }, "version"],
    ["allocations missing", { version: 1 }, "allocations"],
    ["an entry that is not an object", { version: 1, allocations: ["192.168.3.30"] }, "allocations[0]"],
    ["a bad address", { version: 1, allocations: [entry({ ip: "192.168.3.300" })] }, "allocations[0].ip"],
    [
      "an address with a leading zero",
      { version: 1, allocations: [entry({ ip: "192.168.3.030" })] },
      "allocations[0].ip",
    ],
    [
      "an address outside its network",
      { version: 1, allocations: [entry({ ip: "192.168.4.30" })] },
      "allocations[0].ip",
    ],
    [
      "the broadcast address",
      { version: 1, allocations: [entry({ ip: "192.168.3.255" })] },
      "allocations[0].ip",
    ],
    [
      "a network with host bits",
      { version: 1, allocations: [entry({ network: "192.168.3.1/24" })] },
      "allocations[0].network",
    ],
    ["a wrong prefix", { version: 1, allocations: [entry({ prefix: 16 })] }, "allocations[0].prefix"],
    [
      "a wrong netmask",
      { version: 1, allocations: [entry({ netmask: "255.255.0.0" })] },
      "allocations[0].netmask",
    ],
    ["a bad gateway", { version: 1, allocations: [entry({ gateway: "x" })] }, "allocations[0].gateway"],
    [
      "a bad DNS server",
      { version: 1, allocations: [entry({ dns: ["8.8.8.8", 4] })] },
      "allocations[0].dns[1]",
    ],
    ["a missing owner", { version: 1, allocations: [entry({ owner: undefined })] }, "allocations[0].owner"],
    ["an empty owner", { version: 1, allocations: [entry({ owner: "" })] }, "allocations[0].owner"],
    ["an unknown source", { version: 1, allocations: [entry({ source: "dhcp" })] }, "allocations[0].source"],
    [
      "a bad time",
      { version: 1, allocations: [entry({ allocatedAt: "yesterday" })] },
      "allocations[0].allocatedAt",
    ],
    ["a misspelt field", { version: 1, allocations: [entry({ ownr: "x" })] }, "allocations[0].ownr"],
    [
      "the same address twice",
      { version: 1, allocations: [entry(), entry({ owner: "web2" })] },
      "allocations[1].ip",
    ],
  ];

  it.each(cases)("rejects %s, naming the path and the field", (_name, raw, field) => {
    const path = "/var/lib/labgate/ip_pools.state.json";
    let error: unknown;
    try {
      validateLedger(JSON.parse(JSON.stringify(raw)), path);
    } catch (e) {
      error = e;
    }
    expect(error).toMatchObject({
      code: "LEDGER_INVALID",
      exitCode: ExitCode.STATE,
      details: { path, field },
    });
    expect((error as Error).message).toContain(path);
    expect((error as Error).message).toContain(field);
    expect((error as { hint: string }).hint).toContain("will not reset");
  });
});
