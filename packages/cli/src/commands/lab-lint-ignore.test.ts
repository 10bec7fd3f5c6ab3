import { execFile } from "node:child_process";
import { mkdir, rm, rmdir, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { REPO_ROOT } from "../test-support/built-cli.js";

/**
 * The quick start (`./scripts/quickstart.sh`, the demo) leaves `.labgate/` in the clone (lab state, bench
 * reports); `npm test` lints the repo next. Biome must leave that directory alone, or the README's two
 * commands fail in that order.
 */
describe("lint after the quick start", () => {
  it("biome ignores what labs and the demo write under .labgate/", { timeout: 60_000 }, async () => {
    const top = join(REPO_ROOT, ".labgate");
    const hadTop = await stat(top).then(
      () => true,
      () => false,
    );
    const probe = join(top, `lint-probe-${process.pid}`, "reports", "bench-1");
    await mkdir(probe, { recursive: true });
    try {
      // Badly formatted on purpose: linted, these would fail `npm test`.
      await writeFile(join(probe, "report.md"), "#  Report\n\n\n\n|a|b|\n");
      await writeFile(join(probe, "page.js"), "var  x=1;;\n");
      const relative = join(".labgate", `lint-probe-${process.pid}`);
      const result = await new Promise<{ code: number; out: string }>((resolve) => {
        execFile(
          join(REPO_ROOT, "node_modules/.bin/biome"),
          ["check", relative],
          { cwd: REPO_ROOT },
          (error, stdout, stderr) => resolve({ code: error ? Number(error.code) : 0, out: stdout + stderr }),
        );
      });
      expect(result.out).toContain("These paths were provided but ignored");
      expect(result.out).not.toMatch(/format|lint\/[a-z]/i);
    } finally {
      await rm(join(top, `lint-probe-${process.pid}`), { recursive: true, force: true });
      if (!hadTop) await rmdir(top).catch(() => {});
    }
  });
});
