// Module hooks: "./x.js" imported from a .ts file resolves to "./x.ts" when that exists, and .ts
// files have their types stripped: with oxc (rolldown/utils, which vitest brings, ~0.1 s to load)
// or else the repository's TypeScript compiler (~1 s to load in every worker).
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";

const strip = await (async () => {
  try {
    const { transformSync } = await import("rolldown/utils");
    return (file, source) => {
      const out = transformSync(file, source, {});
      if (out.errors?.length) throw new Error(`${file}: ${out.errors.map((e) => e.message).join("; ")}`);
      return out.code;
    };
  } catch {
    const ts = (await import("typescript")).default;
    return (file, source) =>
      ts.transpileModule(source, {
        fileName: file,
        compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
      }).outputText;
  }
})();

export async function resolve(specifier, context, next) {
  if (context.parentURL?.endsWith(".ts") && specifier.startsWith(".") && specifier.endsWith(".js")) {
    const candidate = new URL(specifier.replace(/\.js$/, ".ts"), context.parentURL);
    if (existsSync(fileURLToPath(candidate))) return { url: candidate.href, shortCircuit: true };
  }
  return next(specifier, context);
}

export async function load(url, context, next) {
  if (!url.endsWith(".ts")) return next(url, context);
  const file = fileURLToPath(url);
  return { format: "module", source: strip(file, await readFile(file, "utf8")), shortCircuit: true };
}
