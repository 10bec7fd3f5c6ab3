/**
 * What a simulated OpenNebula host does with a VM. The simulator (sim/ in this folder) calls these hooks at the
 * lifecycle points OpenNebula's LCM would drive a real driver (src/lcm/LifeCycleActions.cc, src/vmm/VirtualMachineManager.cc):
 * deploy at PROLOG/BOOT, poweroff/suspend/resume on the matching actions, destroy on SHUTDOWN/EPILOG → DONE.
 * The default (`inMemoryHypervisor`) does nothing: pure simulation. H4b's LXD-backed one runs real containers.
 *
 * Compatibility note for implementers (H4b): this interface may only grow by optional members; the simulator treats a
 * rejected promise as the driver failing (the VM goes to the matching *_FAILURE LCM state, as oned does).
 * How the simulator calls the hooks (sim/one-simulator.ts):
 * - deploy(vm) in ACTIVE/BOOT; the VM stays in BOOT until it settles. `vm.context` already holds the ETH<n>_*
 *   values oned regenerates from the NIC/AR/vnet, and `vm.nics[].mask/gateway/dns` the same, resolved.
 * - destroy(id) in SHUTDOWN (terminate) or CLEANUP_DELETE (terminate of a failed VM, recover --delete), only for a
 *   VM that was scheduled to a host. It may come while deploy(id) is still pending (recover --delete during BOOT):
 *   the late answer of the abandoned deploy is ignored, so destroy must remove whatever deploy managed to create.
 * - poweroff in SHUTDOWN_POWEROFF, suspend in SAVE_SUSPEND, resume in BOOT_POWEROFF / BOOT_SUSPENDED.
 */
export type SimOneVersion = "6.8" | "6.10.0" | "6.10.5" | "7.0";

export interface SimNic {
  name: string;
  ip: string;
  mac: string;
  network: string;
  mask: string;
  gateway?: string;
  dns?: string;
}

export interface SimVm {
  id: number;
  name: string;
  context: Record<string, string>;
  nics: SimNic[];
  imageSource?: string;
  oneVersion: SimOneVersion;
}

export interface SimHypervisor {
  /** PROLOG/BOOT → RUNNING: create and start the guest, apply CONTEXT. */
  deploy(vm: SimVm): Promise<void>;
  poweroff(id: number, hard: boolean): Promise<void>;
  /** POWEROFF/SUSPENDED → RUNNING. */
  resume(id: number): Promise<void>;
  suspend(id: number): Promise<void>;
  /** SHUTDOWN/EPILOG → DONE. */
  destroy(id: number): Promise<void>;
}

/** Pure simulation: every hook succeeds at once and touches nothing. */
export function inMemoryHypervisor(): SimHypervisor {
  return {
    deploy: async () => {},
    poweroff: async () => {},
    resume: async () => {},
    suspend: async () => {},
    destroy: async () => {},
  };
}
