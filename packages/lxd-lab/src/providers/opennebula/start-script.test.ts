import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { renderCloudConfig } from "../../payload/cloud-config.js";
import { cloudConfigToStartScript } from "./start-script.js";

const run = promisify(execFile);
let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "labgate-start-script-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("cloudConfigToStartScript", () => {
  it("writes every file byte for byte, ASCII and base64-encoded (non-ASCII) alike, then runs runcmd", async () => {
    const lexicon = "good 1\nbad -1\n# em dash — and ü\n";
    const script = cloudConfigToStartScript(
      renderCloudConfig(
        [
          { path: join(dir, "app/lexicon.txt"), content: lexicon },
          { path: join(dir, "app/run.sh"), content: '#!/bin/sh\necho ran > "$1"\n', permissions: "0755" },
        ],
        [`${join(dir, "app/run.sh")} ${join(dir, "ran")}`],
      ),
    );
    // The script logs to /var/log/labgate-start.log in the guest; here it runs with that line dropped.
    const local = script.replace(/^exec >>.*$/m, "");
    await run("sh", ["-c", local]);
    expect(await readFile(join(dir, "app/lexicon.txt"), "utf8")).toBe(lexicon);
    expect((await readFile(join(dir, "ran"), "utf8")).trim()).toBe("ran");
  });

  it("refuses a write_files encoding it cannot reproduce", () => {
    const doc = `#cloud-config\nwrite_files:\n  - path: /x\n    encoding: gz+b64\n    content: H4sI\n`;
    expect(() => cloudConfigToStartScript(doc)).toThrow(/encoding "gz\+b64" cannot go into/);
    expect(() => cloudConfigToStartScript(doc)).toThrow(
      expect.objectContaining({ code: "ONE_START_SCRIPT_ENCODING", exitCode: 2 }),
    );
  });
});
