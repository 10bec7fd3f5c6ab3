import { autoYesGate, labDown, labUp, loadLabSpec, localProvider } from "@labgate/lxd-lab";
import { expect } from "vitest";

/** Brings up the real local lab of `specFile` (paths in it relative to `dir`) with every gate answered yes. */
export async function upLocalLab(specFile: string, dir: string, stateDir: string): Promise<void> {
  const { spec } = await loadLabSpec(specFile, dir);
  const up = await labUp({ provider: localProvider, spec, stateDir, gate: autoYesGate(), log: () => {} });
  expect(up.complete).toBe(true);
}

/** Takes the local lab down again; a lab that never came up is no error here (the test already failed). */
export async function downLocalLab(specFile: string, dir: string, stateDir: string): Promise<void> {
  const { spec } = await loadLabSpec(specFile, dir);
  await labDown({ provider: localProvider, spec, stateDir, gate: autoYesGate(), log: () => {} }).catch(
    () => {},
  );
}
