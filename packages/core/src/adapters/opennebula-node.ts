import type { OpenNebulaClient } from "../platforms/opennebula/client.js";
import type { OneVm } from "../platforms/opennebula/documents.js";
import { type TemplateObject, toTemplateXml } from "../platforms/opennebula/template-xml.js";
import {
  type TerminateOptions,
  type TerminateOutcome,
  terminateVm,
} from "../platforms/opennebula/vm-terminate.js";
import { type WaitOptions, waitForVmRunning } from "../platforms/opennebula/wait.js";
import type { NodeState } from "./types.js";

/**
 * An OpenNebula VM as a node: the one place that instantiates, reads the state of, waits for and terminates
 * the VMs labgate makes. `deploy` (OpenNebulaAdapter) and the OpenNebula lab (its VM steps) both go through it;
 * each passes what is its own (sizes and the apply's claim; the lab's payload in CONTEXT).
 */
export interface OneVmNode {
  /** The VM template instantiated (its numeric id, looked up by the caller). */
  templateId: number;
  /** The VM's name in OpenNebula. */
  name: string;
  /** The NIC: NETWORK (vnet name) or NETWORK_ID, and IP for a fixed address. */
  nic: TemplateObject;
  /** The CONTEXT section: given at instantiation, it replaces the template's whole (one-context reads it). */
  context: TemplateObject;
  /** Attributes before NIC (CPU, VCPU, MEMORY). */
  sizes?: TemplateObject;
  /** Attributes after CONTEXT (the apply's claim): OpenNebula keeps unknown attributes as given. */
  attributes?: TemplateObject;
}

/** one.template.instantiate(template id, name, hold, extra template, persistent), as data. */
export interface OneVmInstantiation {
  method: "one.template.instantiate";
  params: [templateId: number, name: string, onHold: false, extraTemplate: string, persistent: false];
}

/** Pure: the call that creates this node, made by `instantiateOneVm` and shown by the plans that make it. */
export function oneVmInstantiation(node: OneVmNode): OneVmInstantiation {
  const extra = toTemplateXml({
    ...node.sizes,
    NIC: node.nic,
    CONTEXT: node.context,
    ...node.attributes,
  });
  return { method: "one.template.instantiate", params: [node.templateId, node.name, false, extra, false] };
}

/** Instantiates the node's template; the answer is the new VM's id. */
export function instantiateOneVm(client: OpenNebulaClient, node: OneVmNode): Promise<number> {
  const [templateId, name, onHold, extra, persistent] = oneVmInstantiation(node).params;
  return client.templateInstantiate(templateId, name, extra, onHold, persistent);
}

/** The node state of a VM's STATE and LCM_STATE (include/VirtualMachine.h). */
export function oneNodeState(vm: Pick<OneVm, "stateName" | "lcmStateName">): NodeState {
  const { stateName: state, lcmStateName: lcm } = vm;
  if (state === "ACTIVE") {
    if (lcm === "RUNNING") return "running";
    if (/FAILURE/.test(lcm)) return "error";
    // UNKNOWN is lost monitoring (transient, include/VirtualMachine.h), not a failure.
    if (lcm === "UNKNOWN") return "unknown";
    if (/SHUTDOWN|EPILOG|CLEANUP/.test(lcm)) return "stopping";
    return "pending";
  }
  switch (state) {
    case "INIT":
    case "PENDING":
    case "HOLD":
    case "CLONING":
      return "pending";
    case "POWEROFF":
    case "STOPPED":
    case "SUSPENDED":
    case "UNDEPLOYED":
      return "stopped";
    case "DONE":
      return "terminated";
    case "FAILED":
    case "CLONING_FAILURE":
      return "error";
    default:
      return "unknown";
  }
}

/** Waits until the VM is ACTIVE/RUNNING; a failure state or a VM gone ends the wait with its error. */
export function waitOneVmRunning(
  client: OpenNebulaClient,
  id: number,
  options: WaitOptions = {},
): Promise<OneVm> {
  return waitForVmRunning(client, id, options);
}

/**
 * terminate-hard until DONE; a VM already gone (not found, or DONE) is "gone", not an error. Refusals in
 * transient states are retried, a stuck VM is deleted with one.vm.recover(id, 3) (vm-terminate.ts).
 */
export function terminateOneVm(
  client: OpenNebulaClient,
  id: number,
  options: TerminateOptions = {},
): Promise<TerminateOutcome> {
  return terminateVm(client, id, options);
}
