import { execFileSync } from "node:child_process";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ExitCode } from "@labgate/core";
import { afterEach, describe, expect, it } from "vitest";
import { autoYesGate } from "../../engine/gate.js";
import { labUp } from "../../engine/run-lab.js";
import { parseLabSpec } from "../../spec/parse-lab-spec.js";
import { freePorts } from "../../test-support/free-ports.js";
import { EXPOSE_DEVICE, LAB_MARKER_KEY, lxdLabOptions } from "./lxd-lab-options.js";
import { createLxdProvider } from "./lxd-provider.js";
import { defaultClientFactory } from "./lxd-runtime.js";
import { lxdPreflight, preflightError, XTABLES_WARNING } from "./preflight-step.js";
import { fakeLxdDaemon } from "./test-support/fake-lxd-daemon.js";

const dirs: string[] = [];
afterEach(async () => {
  while (dirs.length) await rm(dirs.pop() as string, { recursive: true, force: true });
});

async function tempDir(prefix: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  dirs.push(dir);
  return dir;
}

const spec = (socketPath: string) =>
  parseLabSpec(
    {
      name: "pfdemo",
      provider: "lxd",
      network: { cidr: "10.20.0.0/24" },
      image: "labgate/debian-bookworm",
      providerOptions: { socketPath },
    },
    "test",
  );

/** What a ready LXD answers: API, default pool, no networks or instances, the lab image; `extra` adds or replaces routes. */
const ready = (extra: Record<string, unknown> = {}, firewall?: string) => ({
  "/1.0": {
    api_extensions: [],
    api_version: "1.0",
    auth: "trusted",
    environment: { server_version: "5.0.2", ...(firewall === undefined ? {} : { firewall }) },
  },
  "/1.0/storage-pools/default": { name: "default", driver: "dir", config: {} },
  "/1.0/networks?recursion=1": [],
  "/1.0/instances?recursion=1": [],
  "/1.0/images/aliases/labgate%2Fdebian-bookworm": {
    name: "labgate/debian-bookworm",
    target: "abc123abc123",
  },
  "/1.0/images/abc123abc123": { fingerprint: "abc123abc123", properties: {}, aliases: [] },
  ...extra,
});

// No LXD is needed here: these are the failures of a host where LXD does not answer.
describe("LXD preflight when LXD is unreachable", () => {
  it("no socket at the configured path: LXD_UNREACHABLE with the commands that start LXD", async () => {
    const o = lxdLabOptions(spec("/nonexistent/labgate-preflight/unix.socket"));
    const report = await lxdPreflight(defaultClientFactory(o), o);
    expect(report.problems.map((p) => p.code)).toEqual(["LXD_UNREACHABLE"]);
    expect(report.problems[0]?.problem).toContain("/nonexistent/labgate-preflight/unix.socket");
    expect(report.problems[0]?.fix).toContain("lxd waitready");
    const error = preflightError(report);
    expect(error.code).toBe("LXD_UNREACHABLE");
    expect(error.exitCode).toBe(ExitCode.PRECONDITION);
    expect(error.message).toContain("fix: ");
  });

  it("a dead socket (daemon crashed) is reported the same way, not as ECONNREFUSED", async () => {
    const path = join(await tempDir("labgate-pf-sock-"), "unix.socket");
    execFileSync("python3", [
      "-c",
      "import socket,sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])",
      path,
    ]);
    const o = lxdLabOptions(spec(path));
    const report = await lxdPreflight(defaultClientFactory(o), o);
    expect(report.problems.map((p) => p.code)).toEqual(["LXD_UNREACHABLE"]);
    expect(report.problems[0]?.problem).toMatch(/not answering/);
  });

  it("lab up stops at preflight with exit 4 and the fix in the message", async () => {
    const stateDir = join(await tempDir("labgate-pf-state-"), "lab");
    const error = (await labUp({
      provider: createLxdProvider(),
      spec: spec("/nonexistent/labgate-preflight/unix.socket"),
      stateDir,
      gate: autoYesGate(),
    }).catch((e: unknown) => e)) as { code?: string; exitCode?: number; message?: string };
    expect(error.code).toBe("STEP_FAILED");
    expect(error.exitCode).toBe(ExitCode.PRECONDITION);
    expect(error.message).toContain("lxd waitready");
  });
});

describe("LXD preflight facts", () => {
  it("warns, without blocking, when LXD runs the xtables firewall driver", async () => {
    for (const [firewall, warned] of [
      ["xtables", true],
      ["nftables", false],
    ] as const) {
      const fake = await fakeLxdDaemon(ready({}, firewall));
      try {
        const o = lxdLabOptions(spec("/unused"));
        const report = await lxdPreflight(fake.client, o);
        expect(report.problems).toEqual([]);
        expect(report.facts.includes(XTABLES_WARNING)).toBe(warned);
      } finally {
        await fake.close();
      }
    }
    expect(XTABLES_WARNING).toContain("apt-get install -y nftables");
  });
});

describe("LXD preflight catches what is knowable before anything is created", () => {
  const specWith = (lb: Record<string, unknown>, name = "pfdemo") =>
    parseLabSpec(
      {
        name,
        provider: "lxd",
        network: { cidr: "10.20.0.0/24" },
        image: "labgate/debian-bookworm",
        lb,
        providerOptions: { socketPath: "/unused" },
      },
      "test",
    );
  const servers: Server[] = [];
  afterEach(async () => {
    await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
  });
  const hold = async (port: number) => {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen({ host: "127.0.0.1", port }, resolve));
    servers.push(server);
  };

  it("a taken expose port is refused naming its holder, and a refused lab leaves no state dir", async () => {
    const [port] = await freePorts(1);
    await hold(port!);
    const fake = await fakeLxdDaemon(ready());
    try {
      const lab = specWith({ port: 8080, expose: { address: "127.0.0.1", port: port } });
      const report = await lxdPreflight(fake.client, lxdLabOptions(lab));
      expect(report.problems.map((p) => p.code)).toEqual(["LXD_EXPOSE_PORT_TAKEN"]);
      expect(report.problems[0]!.problem).toContain(
        `127.0.0.1:${port} is already in use by pid ${process.pid}`,
      );
      const root = await tempDir("labgate-pf-refused-");
      const error = await labUp({
        provider: createLxdProvider({ clientFor: () => fake.client }),
        spec: lab,
        stateDir: join(root, "labs", "pfdemo"),
        gate: autoYesGate(),
      }).catch((e: unknown) => e);
      expect(error).toMatchObject({
        code: "STEP_FAILED",
        stepId: "preflight",
        exitCode: ExitCode.PRECONDITION,
      });
      expect(await readdir(root)).toEqual([]);
    } finally {
      await fake.close();
    }
  });

  it("the expose port held by this lab's own proxy device (a rerun) is not a problem", async () => {
    const [port] = await freePorts(1);
    await hold(port!);
    const lab = specWith({ port: 8080, expose: { address: "127.0.0.1", port } });
    const o = lxdLabOptions(lab);
    const fake = await fakeLxdDaemon(
      ready({
        "/1.0/instances?recursion=1": [
          {
            name: o.lb.instance,
            status: "Running",
            config: { [LAB_MARKER_KEY]: "pfdemo" },
            devices: {
              [EXPOSE_DEVICE]: {
                type: "proxy",
                listen: `tcp:127.0.0.1:${port}`,
                connect: "tcp:127.0.0.1:8080",
              },
            },
          },
        ],
      }),
    );
    try {
      expect((await lxdPreflight(fake.client, o)).problems).toEqual([]);
    } finally {
      await fake.close();
    }
  });

  it("a subnet clash names the labgate lab that owns the other network", async () => {
    const [port] = await freePorts(1);
    const fake = await fakeLxdDaemon(
      ready({
        "/1.0/networks?recursion=1": [
          {
            name: "lgt-other",
            managed: true,
            type: "bridge",
            config: { "ipv4.address": "10.20.0.1/24", [LAB_MARKER_KEY]: "otherlab" },
          },
          { name: "plainbr", managed: true, type: "bridge", config: { "ipv4.address": "10.20.0.129/25" } },
        ],
      }),
    );
    try {
      const report = await lxdPreflight(
        fake.client,
        lxdLabOptions(specWith({ port: 8080, expose: { address: "127.0.0.1", port } })),
      );
      const subnet = report.problems.filter((p) => p.code === "LXD_SUBNET_IN_USE").map((p) => p.problem);
      expect(subnet).toEqual([
        expect.stringContaining(
          'LXD network lgt-other (of labgate lab "otherlab") already uses 10.20.0.1/24',
        ),
        expect.stringContaining("LXD network plainbr (not made by labgate) already uses 10.20.0.129/25"),
      ]);
    } finally {
      await fake.close();
    }
  });
});
