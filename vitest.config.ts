import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

const src = (pkg: string) => fileURLToPath(new URL(`./packages/${pkg}/src/index.ts`, import.meta.url));

export default defineConfig({
  resolve: {
    // Tests always run against the sources of sibling packages, never a stale dist/.
    alias: {
      // Light entry points (no SDKs, ssh or XML parser): what a bench run loads. Before the package
      // name, which would otherwise match them as a prefix.
      "@labgate/core/errors": fileURLToPath(new URL("./packages/core/src/errors.ts", import.meta.url)),
      "@labgate/core/simulators": fileURLToPath(
        new URL("./packages/core/src/simulators.ts", import.meta.url),
      ),
      "@labgate/core/adapter-kit": fileURLToPath(
        new URL("./packages/core/src/adapter-kit.ts", import.meta.url),
      ),
      "@labgate/core/exit-codes": fileURLToPath(
        new URL("./packages/core/src/exit-codes.ts", import.meta.url),
      ),
      "@labgate/core/redact": fileURLToPath(new URL("./packages/core/src/util/redact.ts", import.meta.url)),
      "@labgate/core/atomic-write": fileURLToPath(
        new URL("./packages/core/src/fs/atomic-write.ts", import.meta.url),
      ),
      "@labgate/core/shell-quote": fileURLToPath(
        new URL("./packages/core/src/runner/shell-quote.ts", import.meta.url),
      ),
      "@labgate/core/text": fileURLToPath(new URL("./packages/core/src/util/text.ts", import.meta.url)),
      "@labgate/bench/duration": fileURLToPath(new URL("./packages/bench/src/duration.ts", import.meta.url)),
      "@labgate/lxd-lab/fault-bench": fileURLToPath(
        new URL("./packages/lxd-lab/src/bench-step/fault-bench.ts", import.meta.url),
      ),
      "@labgate/clouds": src("clouds"),
      "@labgate/core": src("core"),
      "@labgate/bench": src("bench"),
      "@labgate/lxd-lab": src("lxd-lab"),
    },
  },
  test: {
    include: ["packages/*/src/**/*.test.ts"],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: "forks",
  },
});
