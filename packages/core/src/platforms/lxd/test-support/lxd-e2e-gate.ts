import { describe, it } from "vitest";
import { LxdClient } from "../lxd-client.js";
import { findLxdSocket, lxdSocketCandidates } from "../socket-path.js";

/**
 * When the suites that need a real LXD run: `npm test` runs them whenever LXD (and the images they
 * name) are there and skips them otherwise; LABGATE_LXD_E2E=0 (`npm run test:quick`) leaves them out;
 * LABGATE_REQUIRE_LXD=1 (.ci/run) makes them mandatory, so a missing daemon or image is a failing test,
 * never a silent skip.
 */
export const lxdE2eRequired = process.env.LABGATE_REQUIRE_LXD === "1";
export const lxdE2eEnabled = lxdE2eRequired || process.env.LABGATE_LXD_E2E !== "0";

export interface LxdE2eState {
  ok: boolean;
  reason: string;
  /** The socket LXD answered on, when ok. */
  socket?: string;
}

/** Whether LXD answers on its socket and has every image in `images` (aliases). */
export async function lxdE2eState(images: string[]): Promise<LxdE2eState> {
  if (!lxdE2eEnabled) return { ok: false, reason: "LABGATE_LXD_E2E=0 leaves the LXD end-to-end suite out" };
  const socket = findLxdSocket(lxdSocketCandidates());
  if (!socket) return { ok: false, reason: `no LXD socket at ${lxdSocketCandidates().join(", ")}` };
  try {
    const client = new LxdClient({ socketPath: socket });
    await client.server();
    for (const image of images) {
      if (!(await client.resolveImageAlias(image)))
        return { ok: false, reason: `LXD has no image ${image} (run scripts/ci/setup-lxd.sh)` };
    }
    return { ok: true, reason: "", socket };
  } catch (error) {
    return { ok: false, reason: (error as Error).message };
  }
}

/** Under LABGATE_REQUIRE_LXD=1, an unusable LXD becomes one failing test naming the reason. */
export function failUnlessUsable(suite: string, state: LxdE2eState): void {
  if (!lxdE2eRequired || state.ok) return;
  describe(suite, () => {
    it("needs LXD (LABGATE_REQUIRE_LXD=1)", () => {
      throw new Error(`LXD is required but not usable: ${state.reason}`);
    });
  });
}
