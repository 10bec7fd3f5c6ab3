import type { EngineClient, EngineSpec, SlotFactory } from "./engine-core.js";

export type SlotsFor = (spec: EngineSpec) => SlotFactory;

/**
 * Loads one client's module (undici alone is ~20 MiB of RSS, so a thread holds only the one it
 * runs). Called before the run's clock starts: on a loaded machine the import can take longer
 * than a short run, and a run whose window closed while its client loaded measures nothing.
 */
export async function loadClient(client: EngineClient): Promise<SlotsFor> {
  return client === "undici"
    ? (await import("./undici-engine.js")).undiciSlots
    : (await import("./net-engine.js")).netSlots;
}
