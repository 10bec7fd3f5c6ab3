import { mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { ExitCode } from "@labgate/core";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { labPlanCommand, labVerifyCommand } from "./lab.js";
import type { LabIo } from "./lab-context.js";

let cwd: string;
beforeEach(async () => {
  cwd = await mkdtemp(join(tmpdir(), "labgate-lab-bounds-"));
});
afterEach(async () => {
  await rm(cwd, { recursive: true, force: true });
});

function io(): LabIo {
  const stdin = Object.assign(new PassThrough(), { isTTY: false });
  stdin.end();
  return { stdin, stdout: new PassThrough(), stderr: new PassThrough(), cwd };
}

describe("lab inputs are bounded before anything runs", () => {
  it.each(["10001", "1e9", "0"])(
    "lab verify --requests %s is exit 2, before the lab is looked up",
    async (n) => {
      await expect(labVerifyCommand({ requests: n }, io())).rejects.toMatchObject({
        code: "INVALID_FLAG",
        exitCode: ExitCode.INVALID_INPUT,
      });
    },
  );

  it("lab plan refuses an unsafe providerOptions.bindAddress, naming the field; nothing is created", async () => {
    for (const bindAddress of ["127.0.0.1; touch pwned", "0.0.0.0"]) {
      await writeFile(join(cwd, "lab.json"), JSON.stringify({ providerOptions: { bindAddress } }));
      await expect(labPlanCommand({}, io())).rejects.toMatchObject({
        code: "LAB_SPEC_INVALID",
        exitCode: ExitCode.INVALID_INPUT,
        field: "providerOptions.bindAddress",
      });
    }
    expect(await readdir(cwd)).toEqual(["lab.json"]);
  });

  it("lab plan refuses an invalid SLO string in the spec", async () => {
    await writeFile(join(cwd, "lab.json"), JSON.stringify({ slos: ["p99<250ms", "p99<fast"] }));
    await expect(labPlanCommand({}, io())).rejects.toMatchObject({ exitCode: ExitCode.INVALID_INPUT });
  });
});
