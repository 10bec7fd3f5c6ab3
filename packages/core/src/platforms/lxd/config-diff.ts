import type { LxdConfig, LxdDevices } from "./types.js";

/**
 * Keys LXD writes itself (`volatile.*`: MAC addresses, idmaps, last state; `image.*`: copied from
 * the image). Comparing desired with actual config must ignore them or a re-run would always
 * see a change.
 */
export function isLxdManagedKey(key: string): boolean {
  return key.startsWith("volatile.") || key.startsWith("image.");
}

/** Keys of `desired` whose value differs from `actual` (missing counts as different). */
export function configDrift(desired: LxdConfig, actual: LxdConfig | undefined): string[] {
  return Object.keys(desired)
    .filter((key) => !isLxdManagedKey(key))
    .filter((key) => (actual?.[key] ?? undefined) !== desired[key]);
}

/** Devices of `desired` that are missing or differ from `actual`, by device name. */
export function deviceDrift(desired: LxdDevices, actual: LxdDevices | undefined): string[] {
  return Object.keys(desired).filter((name) => {
    const want = desired[name] ?? {};
    const have = actual?.[name];
    if (!have) return true;
    const keys = new Set([...Object.keys(want), ...Object.keys(have)]);
    return [...keys].some((k) => want[k] !== have[k]);
  });
}
