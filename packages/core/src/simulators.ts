/**
 * `@labgate/core/simulators`: the platform simulators (`labgate sim`, tests, rehearsing a lab without
 * the platform). Kept out of the main entry point: they are servers, not part of the client API.
 */
export type {
  SimHypervisor,
  SimNic,
  SimOneVersion,
  SimVm,
} from "./platforms/opennebula/sim/hypervisor.js";
export {
  type GuestContextStatus,
  LxdSimHypervisor,
  type LxdSimHypervisorOptions,
  readGuestContextStatus,
  SIM_DEFAULT_IMAGE,
  SIM_OWNER_KEY,
} from "./platforms/opennebula/sim/lxd-hypervisor.js";
export {
  type RunningOneSimulator,
  type StartOneSimulatorOptions,
  startOneSimulator,
} from "./platforms/opennebula/sim/start-one-simulator.js";
export {
  decodeMethodCall,
  encodeFault,
  encodeMethodResponse,
} from "./platforms/opennebula/xmlrpc.js";
