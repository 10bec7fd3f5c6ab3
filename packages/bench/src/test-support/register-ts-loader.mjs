// Lets a worker thread started from the TypeScript sources (vitest runs them untranspiled) import
// .ts files: Node 20 cannot strip types itself. Never used by the built package.
import { register } from "node:module";

register("./ts-loader.mjs", import.meta.url);
