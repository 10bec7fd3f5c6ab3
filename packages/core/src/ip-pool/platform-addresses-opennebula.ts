import type { OneVm, OneVnet } from "../platforms/opennebula/documents.js";
import { isValidIpv4 } from "./ipv4.js";
import type { PlatformAddress } from "./reconcile.js";

/** What reconcile needs of an OpenNebula client (OpenNebulaClient has all three). */
export interface OneAddressSource {
  vmPool(): Promise<OneVm[]>;
  vnPool(): Promise<OneVnet[]>;
  vnInfo(id: number): Promise<OneVnet>;
}

/**
 * Every IPv4 address OpenNebula hands out: the NIC addresses of every VM not DONE (TEMPLATE/NIC/IP),
 * then the address-range leases of every virtual network (LEASES/LEASE), which also cover held
 * addresses (VM -1, `onevnet hold`) and leases of VMs this user cannot list. The pool answer of
 * one.vnpool.info carries no leases (src/vnm/VirtualNetworkPool.cc dumps AR_POOL without them), so
 * each network is read with one.vn.info. A NIC comes first, so an address is held by its VM's name.
 */
export async function openNebulaAddresses(client: OneAddressSource): Promise<PlatformAddress[]> {
  // one.vmpool.info with state -1 already leaves DONE VMs out; a DONE VM holds no lease any more.
  const vms = (await client.vmPool()).filter((vm) => vm.stateName !== "DONE");
  const names = new Map(vms.map((vm) => [vm.id, vm.name]));
  const found: PlatformAddress[] = [];
  for (const vm of vms) {
    for (const nic of vm.nics) {
      if (isValidIpv4(nic.ip)) {
        found.push({
          ip: nic.ip,
          holder: vm.name,
          seenIn: `VM ${vm.id} NIC ${nic.nicId}${nic.network ? ` (${nic.network})` : ""}`,
        });
      }
    }
  }
  for (const listed of await client.vnPool()) {
    const vnet = await client.vnInfo(listed.id);
    for (const ar of vnet.addressRanges) {
      for (const lease of ar.leases) {
        if (!isValidIpv4(lease.ip)) continue;
        const held = lease.vm < 0;
        found.push({
          ip: lease.ip,
          holder: held ? `hold:${vnet.name}` : (names.get(lease.vm) ?? `vm:${lease.vm}`),
          seenIn: `vnet ${vnet.id} (${vnet.name}) AR ${ar.arId} ${held ? "lease on hold" : `lease of VM ${lease.vm}`}`,
        });
      }
    }
  }
  return found;
}
