#!/usr/bin/env node
// Committed entry point, so npm links `labgate` at install time, before dist/ exists; the command
// itself is the compiled dist/bin.js.
import { existsSync } from "node:fs";

const entry = new URL("../dist/bin.js", import.meta.url);
if (!existsSync(entry)) {
  process.stderr.write(
    "labgate is not built yet (packages/cli/dist/bin.js is missing).\n" +
      "  what to do: run `npm run build` in the repository root, then run the command again.\n",
  );
  process.exit(4);
}
await import(entry.href);
