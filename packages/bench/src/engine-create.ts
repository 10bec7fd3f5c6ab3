import { Engine, type EngineSpec } from "./engine-core.js";
import type { Recorder } from "./recorder.js";

/**
 * The engine for one thread, on the HTTP client its spec names. Each client's module is loaded
 * only here, so a thread holds the code of the one it runs (undici alone is ~20 MiB of RSS).
 */
export async function createEngine(spec: EngineSpec, recorder: Recorder): Promise<Engine> {
  const slots =
    spec.client === "undici"
      ? (await import("./undici-engine.js")).undiciSlots(spec)
      : (await import("./net-engine.js")).netSlots(spec);
  return new Engine(spec, recorder, slots);
}
