import { existsSync } from "node:fs";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ExitCode } from "@labgate/core";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { autoYesGate } from "../../engine/gate.js";
import { planSteps } from "../../engine/plan-view.js";
import { labDown, labUp } from "../../engine/run-lab.js";
import { LabSpecError } from "../../errors.js";
import { defaultLabSpec } from "../../spec/default-lab-spec.js";
import type { LabSpec } from "../../spec/lab-spec.js";
import { localOptions, MAX_VERIFY_REQUESTS } from "./local-lab.js";
import { localProvider } from "./local-provider.js";

const withOptions = (providerOptions: Record<string, unknown>): LabSpec => ({
  ...defaultLabSpec(),
  providerOptions,
});

function refusal(options: Record<string, unknown>): LabSpecError {
  let error: unknown;
  try {
    localOptions(withOptions(options));
  } catch (e) {
    error = e;
  }
  expect(error).toBeInstanceOf(LabSpecError);
  expect((error as LabSpecError).exitCode).toBe(ExitCode.INVALID_INPUT);
  return error as LabSpecError;
}

describe("local providerOptions are checked, never passed on raw", () => {
  it.each([
    ["127.0.0.1; touch /tmp/pwned", "is not an IPv4 address"],
    ["0.0.0.0", "would listen on every interface"],
    ["192.168.3.10", "is not a loopback address"],
    ["::1", "is not an IPv4 address"],
    ["localhost", "is not an IPv4 address"],
    ["127.0.0.0", "network or broadcast"],
    ["127.255.255.255", "network or broadcast"],
  ])("bindAddress %j is refused (%s)", (address, problem) => {
    const error = refusal({ bindAddress: address });
    expect(error.field).toBe("providerOptions.bindAddress");
    expect(error.message).toContain(problem);
    expect(error.hint).toContain("127.0.0.1");
  });

  it("accepts loopback addresses and the default", () => {
    expect(localOptions(defaultLabSpec()).bindAddress).toBe("127.0.0.1");
    expect(localOptions(withOptions({ bindAddress: "127.0.0.2" })).bindAddress).toBe("127.0.0.2");
  });

  it("refuses a misspelt option instead of ignoring it", () => {
    const error = refusal({ verifyRequest: 20, bindAdress: "127.0.0.2" });
    expect(error.field).toBe("providerOptions");
    expect(error.message).toContain("unknown options verifyRequest, bindAdress");
    expect(error.hint).toContain("verifyRequests");
  });

  it("refuses control characters in program paths and out-of-range numbers instead of defaulting", () => {
    expect(refusal({ python: "python3\ntouch /tmp/x" }).field).toBe("providerOptions.python");
    expect(refusal({ haproxy: "hap\u202eroxy" }).field).toBe("providerOptions.haproxy");
    expect(refusal({ haproxy: "" }).field).toBe("providerOptions.haproxy");
    expect(refusal({ verifyRequests: MAX_VERIFY_REQUESTS + 1 }).message).toContain("from 1 to 10000");
    expect(refusal({ verifyRequests: "20" }).field).toBe("providerOptions.verifyRequests");
    expect(refusal({ verifyRequests: 2.5 }).field).toBe("providerOptions.verifyRequests");
    expect(refusal({ tolerancePct: 150 }).field).toBe("providerOptions.tolerancePct");
    expect(refusal({ startTimeoutMs: 1e12 }).field).toBe("providerOptions.startTimeoutMs");
  });

  it("printed commands quote program paths as a shell needs them", () => {
    const spec = withOptions({ python: "/opt/my python/bin/python3", haproxy: "/opt/ha proxy/haproxy" });
    const commands = planSteps(localProvider, spec).flatMap((s) => s.description.calls.map((c) => c.display));
    expect(commands.some((c) => c.startsWith("'/opt/my python/bin/python3' "))).toBe(true);
    expect(commands.some((c) => c.startsWith("'/opt/ha proxy/haproxy' -c -f"))).toBe(true);
    expect(commands.some((c) => /(^|\s)\/opt\/my python/.test(c))).toBe(false);
  });
});

describe("lab up/down with bindAddress 0.0.0.0", () => {
  let root: string;
  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), "labgate-local-opts-"));
  });
  afterEach(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it("up refuses before anything is created; down has nothing to undo and does not fail", async () => {
    const spec = withOptions({ bindAddress: "0.0.0.0" });
    const stateDir = join(root, "lab");
    await expect(
      labUp({ provider: localProvider, spec, stateDir, gate: autoYesGate() }),
    ).rejects.toMatchObject({
      code: "LAB_SPEC_INVALID",
      exitCode: ExitCode.INVALID_INPUT,
    });
    expect(existsSync(stateDir)).toBe(false);
    const down = await labDown({ provider: localProvider, spec, stateDir, gate: autoYesGate() });
    expect(down.message).toContain("nothing to undo");
    expect(await readdir(root)).toEqual([]);
  });
});
