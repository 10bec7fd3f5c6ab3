import type { SimVsphereVm } from "./vsphere-sim.js";

/** The powered-off 2 vCPU / 2 GiB template "ubuntu-tmpl" the ESXi tests clone, as the simulator's vm-42. */
export function addUbuntuTemplate(vms: Map<string, SimVsphereVm>, extra: Partial<SimVsphereVm> = {}): void {
  vms.set("vm-42", {
    name: "ubuntu-tmpl",
    power_state: "POWERED_OFF",
    cpu: { count: 2 },
    memory: { size_MiB: 2048 },
    template: true,
    ...extra,
  });
}
