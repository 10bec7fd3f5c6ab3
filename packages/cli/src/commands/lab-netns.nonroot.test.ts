import { spawnSync } from "node:child_process";
import { chmod, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ExitCode } from "@labgate/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ensureBuiltCli } from "../test-support/built-cli.js";
import { freePorts } from "../test-support/loopback-ports.js";

/**
 * providerOptions.netns run by a user without root: the compiled `labgate lab up`, started as nobody
 * (setpriv), stops at the preflight with exit 4 and says what to do; nothing is created.
 */
const canDropRoot = process.getuid?.() === 0 && spawnSync("setpriv", ["--version"]).status === 0;

describe.skipIf(!canDropRoot)("labgate lab up with providerOptions.netns, not root", () => {
  let dir: string;
  beforeAll(async () => {
    ensureBuiltCli();
    dir = await mkdtemp(join(tmpdir(), "lgt-netns-nonroot-"));
    await chmod(dir, 0o777);
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("is refused at the preflight (NETNS_NEEDS_ROOT, exit 4) with the way out, and makes nothing", async () => {
    const [a, b, lb, stats] = await freePorts(4);
    const spec = join(dir, "lab.json");
    await writeFile(
      spec,
      JSON.stringify({
        name: "lgt-netns-nonroot",
        apps: { ports: [a, b] },
        lb: { port: lb, statsPort: stats },
        providerOptions: { netns: true },
      }),
    );
    await chmod(spec, 0o644);
    const r = spawnSync(
      "setpriv",
      [
        "--reuid=65534",
        "--regid=65534",
        "--clear-groups",
        "--",
        process.execPath,
        ensureBuiltCli(),
        "lab",
        "up",
        "--spec",
        spec,
        "--state-dir",
        join(dir, "state"),
        "--yes",
        "--json",
      ],
      { cwd: dir, encoding: "utf8", timeout: 120_000 },
    );
    expect(r.status, r.stderr).toBe(ExitCode.PRECONDITION);
    expect(r.stderr).toContain("providerOptions.netns needs root");
    expect(r.stderr).toMatch(/CAP_NET_ADMIN and CAP_SYS_ADMIN/);
    expect(r.stderr).toMatch(/sudo labgate lab up.*or leave providerOptions\.netns out/);
    expect(spawnSync("ip", ["netns", "list"], { encoding: "utf8" }).stdout).not.toContain(
      "lgt-netns-nonroot",
    );
  }, 600_000);
});
