import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LocalRunner } from "./local-runner.js";

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "labgate local runner "));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("LocalRunner", () => {
  const runner = new LocalRunner({ useSudo: false });

  it("passes arguments literally (no shell), with cwd, env and input", async () => {
    const args = ["$(id)", "a b", "`x`", "*", ";"];
    expect((await runner.run("printf", ["%s\\n", ...args])).stdout).toBe(`${args.join("\n")}\n`);
    expect((await runner.run("pwd", [], { cwd: dir })).stdout).toBe(`${dir}\n`);
    expect((await runner.run("printenv", ["LG_TEST"], { env: { LG_TEST: "v $x" } })).stdout).toBe("v $x\n");
    expect((await runner.run("cat", [], { input: "in" })).stdout).toBe("in");
  });

  it("maps failures to coded errors", async () => {
    await expect(runner.run("sh", ["-c", "echo bad >&2; exit 2"])).rejects.toMatchObject({
      code: "COMMAND_FAILED",
      commandExitCode: 2,
      stderrTail: "bad",
    });
    expect((await runner.run("false", [], { allowFailure: true })).exitCode).toBe(1);
    await expect(runner.run("sleep", ["10"], { timeoutMs: 300 })).rejects.toMatchObject({
      code: "RUNNER_TIMEOUT",
      exitCode: 8,
    });
    await expect(runner.run("labgate-no-such-binary", [])).rejects.toMatchObject({
      code: "COMMAND_NOT_FOUND",
    });
  });

  it("describes commands as typed, with sudo when not root", () => {
    const sudoRunner = new LocalRunner({ useSudo: true });
    expect(sudoRunner.describe("usermod", ["-aG", "lxd", "oneadmin"], { sudo: true })).toBe(
      "sudo -n -- usermod -aG lxd oneadmin",
    );
    expect(runner.describe("usermod", ["-aG", "lxd", "oneadmin"], { sudo: true })).toBe(
      "usermod -aG lxd oneadmin",
    );
  });
});
