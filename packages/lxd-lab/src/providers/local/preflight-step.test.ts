import { mkdtemp, readdir, rm } from "node:fs/promises";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { autoYesGate } from "../../engine/gate.js";
import { LabStateStore } from "../../engine/lab-state.js";
import { labDown, labUp } from "../../engine/run-lab.js";
import type { LabSpec } from "../../spec/lab-spec.js";
import { freePorts } from "../../test-support/free-ports.js";
import { isRunning } from "./local-process.js";
import { localProvider } from "./local-provider.js";
import { addressesConflict, decodeProcAddress } from "./port-owner.js";
import { localSpecOnPorts } from "./test-support/local-spec.js";

function specWithPorts(name: string, ports: number[]): LabSpec {
  // No final bench here: these tests are about what preflight lets through.
  return localSpecOnPorts(name, ports, {
    providerOptions: { verifyRequests: 8 },
    bench: { durationMs: 500, connections: 1, enabled: false },
  });
}

function listen(host: string, port: number): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen({ host, port, ipv6Only: host.includes(":") }, () => resolve(server));
  });
}

describe("listening addresses", () => {
  it("decodes /proc/net/tcp6 addresses, v4-mapped ones included", () => {
    expect(decodeProcAddress("0100007F")).toBe("127.0.0.1");
    expect(decodeProcAddress("00000000000000000000000001000000")).toBe("::1");
    expect(decodeProcAddress("00000000000000000000000000000000")).toBe("::");
    expect(decodeProcAddress("0000000000000000FFFF00000100007F")).toBe("::ffff:127.0.0.1");
    expect(decodeProcAddress("B80D0120000000000000000001000000")).toBe("2001:db8::1");
  });

  it("a listener conflicts with ours only on the same address or a wildcard covering it", () => {
    expect(addressesConflict("127.0.0.1", "127.0.0.1")).toBe(true);
    expect(addressesConflict("127.0.0.1", "0.0.0.0")).toBe(true);
    expect(addressesConflict("127.0.0.1", "::")).toBe(true);
    expect(addressesConflict("127.0.0.1", "::ffff:127.0.0.1")).toBe(true);
    expect(addressesConflict("127.0.0.1", "::1")).toBe(false);
    expect(addressesConflict("127.0.0.1", "127.0.0.2")).toBe(false);
    expect(addressesConflict("0.0.0.0", "127.0.0.5")).toBe(true);
    expect(addressesConflict("0.0.0.0", "::1")).toBe(false);
  });
});

describe("local preflight against real listeners", () => {
  let root: string;
  let stateDir: string;
  const servers: Server[] = [];
  const specs: LabSpec[] = [];

  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), "labgate-preflight-"));
    stateDir = join(root, "labs", "pf");
  });

  afterEach(async () => {
    await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
    for (const spec of specs.splice(0)) {
      const store = new LabStateStore(stateDir);
      await store.load().catch(() => undefined);
      for (const r of store.snapshot(spec.name, "local").resources) {
        const pid = r.data?.["pid"];
        if (r.kind === "process" && typeof pid === "number" && (await isRunning(pid)))
          process.kill(pid, "SIGKILL");
      }
    }
    await rm(root, { recursive: true, force: true });
  });

  it("an unrelated listener on [::1]:PORT does not block the lab on 127.0.0.1:PORT, on the first run or the rerun", async () => {
    const ports = await freePorts(4);
    const spec = specWithPorts("pf", ports);
    specs.push(spec);
    // The same port as the lab's LB, on IPv6 loopback only: another program, not a conflict.
    servers.push(await listen("::1", ports[2]!));
    const first = await labUp({ provider: localProvider, spec, stateDir, gate: autoYesGate() });
    expect(first.complete).toBe(true);
    // Now the lab's own HAProxy holds 127.0.0.1:PORT and the stranger still holds [::1]:PORT.
    const again = await labUp({ provider: localProvider, spec, stateDir, gate: autoYesGate() });
    expect(again.changed).toBe(false);
    const replaced = await labUp({
      provider: localProvider,
      spec,
      stateDir,
      gate: autoYesGate(),
      replace: "preflight",
    });
    expect(replaced.steps.find((s) => s.id === "preflight")?.outcome).toBe("replaced");
    const down = await labDown({ provider: localProvider, spec, stateDir, gate: autoYesGate() });
    expect(down.stateRemoved).toBe(true);
  });

  it("a port taken on the lab's address is refused before anything starts, naming the holder; no state dir is left", async () => {
    const ports = await freePorts(4);
    const spec = specWithPorts("pf", ports);
    specs.push(spec);
    servers.push(await listen("127.0.0.1", ports[1]!));
    const error = await labUp({ provider: localProvider, spec, stateDir, gate: autoYesGate() }).catch(
      (e) => e,
    );
    expect(error).toMatchObject({ code: "STEP_FAILED", stepId: "preflight", exitCode: 4 });
    expect(error.message).toContain(`Port 127.0.0.1:${ports[1]} is already in use by pid ${process.pid}`);
    expect(await readdir(root)).toEqual([]);
  });
});
