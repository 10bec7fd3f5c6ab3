import { mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { LabgateError } from "@labgate/core";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { startSshd, type TestSshd } from "../../../../core/src/runner/test-support/sshd.js";
import { autoYesGate, type Gate, type GateDecision } from "../../engine/gate.js";
import { labUp } from "../../engine/run-lab.js";
import type { LabSpec } from "../../spec/lab-spec.js";
import { createOpenNebulaProvider } from "./one-lab.js";

/** A real OpenSSH server on 127.0.0.1 stands in for the OpenNebula host; only the one-ssh step runs. */
let sshd: TestSshd;
let dir: string;
let logs: string[];

beforeAll(async () => {
  sshd = await startSshd();
}, 30_000);
afterAll(async () => {
  await sshd?.stop();
});
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "one-ssh-"));
  logs = [];
  return () => rm(dir, { recursive: true, force: true });
});

function answering(decision: GateDecision): Gate & { asked: string[] } {
  const asked: string[] = [];
  return {
    interactive: true,
    asked,
    async confirm({ step }) {
      asked.push(step.id);
      return decision;
    },
    close() {},
  };
}

function sshStep(ssh: Record<string, unknown>, gate: Gate) {
  const spec: LabSpec = {
    name: "lab",
    provider: "opennebula",
    network: { cidr: "192.168.3.0/24", dhcp: false },
    apps: { count: 2, ports: [8000, 8001], namePrefix: "app" },
    lb: { port: 8080, statsPort: 8404, name: "lb" },
    image: "ubuntu:22.04",
    slos: [],
    // Only the one-ssh step runs: nothing contacts this endpoint.
    providerOptions: {
      endpoint: "http://127.0.0.1:9/RPC2",
      session: "oneadmin:unused-here",
      ssh: {
        host: "127.0.0.1",
        port: sshd.port,
        user: sshd.user,
        privateKeyPath: sshd.privateKeyPath,
        ...ssh,
      },
    },
  };
  // Host preparation would run commands on this machine through the test sshd: left out.
  const provider = createOpenNebulaProvider({ hostPrepSteps: () => [] });
  return labUp({
    provider,
    spec,
    stateDir: join(dir, "state"),
    gate,
    step: "one-ssh",
    log: (l) => logs.push(l),
  });
}

type StepFailure = LabgateError & { stepId?: string; cause?: LabgateError };

async function failure(promise: Promise<unknown>): Promise<StepFailure> {
  return (await promise.then(
    () => {
      throw new Error("expected the step to fail");
    },
    (e: unknown) => e,
  )) as StepFailure;
}

const keyOf = (line: string) => line.split(" ").slice(0, 2).join(" ");

// Each login runs root's ~/.bashrc (`pyenv init`, 1-3 s under load here); a test logs in up to four times.
describe("one-ssh: the OpenNebula host's SSH key", { timeout: 90_000 }, () => {
  it("shows an unknown key's fingerprint before the gate and records nothing when declined", async () => {
    const knownHostsPath = join(dir, "known_hosts");
    const gate = answering("no");
    const error = await failure(sshStep({ knownHostsPath }, gate));
    expect(error.code).toBe("DECLINED");
    expect(gate.asked).toEqual(["one-ssh"]);
    const shown = logs.join("\n");
    expect(shown.indexOf(sshd.hostFingerprint)).toBeGreaterThanOrEqual(0);
    expect(shown.indexOf(sshd.hostFingerprint)).toBeLessThan(shown.indexOf("── step"));
    await expect(stat(knownHostsPath)).rejects.toThrow();
  });

  it("records the accepted key in known_hosts, then logs in without asking", async () => {
    const knownHostsPath = join(dir, "known_hosts");
    const first = await sshStep({ knownHostsPath }, autoYesGate());
    expect(first.steps.map((s) => s.outcome)).toEqual(["applied"]);
    expect(await readFile(knownHostsPath, "utf8")).toBe(
      `[127.0.0.1]:${sshd.port} ${keyOf(sshd.hostPublicKeyLine)}\n`,
    );
    const state = JSON.parse(await readFile(join(dir, "state", "state.json"), "utf8"));
    expect(state.resources).toContainEqual(
      expect.objectContaining({ kind: "known-host", id: `[127.0.0.1]:${sshd.port}` }),
    );
    const gate = answering("no");
    const second = await sshStep({ knownHostsPath }, gate);
    expect(second.steps.map((s) => s.outcome)).toEqual(["already-done"]);
    expect(gate.asked).toEqual([]);
  });

  it("refuses a changed key even with --yes, leaving known_hosts as it was", async () => {
    const knownHostsPath = join(dir, "known_hosts");
    const before = `[127.0.0.1]:${sshd.port} ${keyOf(sshd.otherHostPublicKeyLine)}\n`;
    await writeFile(knownHostsPath, before);
    const error = await failure(sshStep({ knownHostsPath }, autoYesGate()));
    expect(error.stepId).toBe("one-ssh");
    expect(error.cause?.code).toBe("HOST_KEY_CHANGED");
    expect(error.message).toContain(sshd.hostFingerprint);
    expect(await readFile(knownHostsPath, "utf8")).toBe(before);
  });

  it("accepts a pinned fingerprint without known_hosts and refuses a wrong one", async () => {
    const knownHostsPath = join(dir, "known_hosts");
    const pinned = await sshStep(
      { knownHostsPath, hostKeyFingerprints: [sshd.hostFingerprint] },
      answering("no"),
    );
    expect(pinned.steps.map((s) => s.outcome)).toEqual(["already-done"]);
    await expect(stat(knownHostsPath)).rejects.toThrow();
    const wrong = await failure(
      sshStep({ knownHostsPath, hostKeyFingerprints: [sshd.otherHostFingerprint] }, autoYesGate()),
    );
    expect(wrong.cause?.code).toBe("HOST_KEY_CHANGED");
  });
});
