import type { PlannedCall } from "./types.js";

/** One vSphere Automation REST call with the adapter's session (throws PlatformApiError on failure). */
export type VsphereRest = <T>(method: string, path: string, body: unknown, what: string) => Promise<T>;

interface DiskInfo {
  type?: string;
  backing?: { type?: string; vmdk_file?: string };
}

/**
 * Windows has no in-box driver for VMware's paravirtual SCSI (and templates often carry one): re-attach
 * the cloned system disk to a SATA (AHCI) adapter and boot from it. Detaching through the REST API
 * keeps the VMDK file, so the same disk comes back on SATA — the vSphere twin of Proxmox's sata0.
 */
export async function moveSystemDiskToSata(rest: VsphereRest, vm: string): Promise<"moved" | "already-sata"> {
  const base = `/api/vcenter/vm/${encodeURIComponent(vm)}/hardware`;
  const disks = await rest<{ disk: string }[]>("GET", `${base}/disk`, undefined, "list the clone's disks");
  const first = disks[0]?.disk;
  if (first === undefined) return "already-sata";
  const info = await rest<DiskInfo>("GET", `${base}/disk/${first}`, undefined, `read disk ${first}`);
  if (info.type === "SATA" || !info.backing?.vmdk_file) return "already-sata";
  const adapters = await rest<{ adapter: string }[]>(
    "GET",
    `${base}/adapter/sata`,
    undefined,
    "list the SATA adapters",
  );
  if (adapters.length === 0)
    await rest("POST", `${base}/adapter/sata`, { type: "AHCI" }, "add a SATA (AHCI) adapter");
  await rest("DELETE", `${base}/disk/${first}`, undefined, `detach disk ${first} (the VMDK is kept)`);
  const disk = await rest<string>(
    "POST",
    `${base}/disk`,
    { type: "SATA", backing: { type: "VMDK_FILE", vmdk_file: info.backing.vmdk_file } },
    "attach the system disk on SATA",
  );
  await rest(
    "PUT",
    `${base}/boot/device`,
    { devices: [{ type: "DISK", disks: [disk] }] },
    "boot from the SATA disk",
  );
  return "moved";
}

/** The same steps, for `deploy plan`. */
export function sataMovePlan(): PlannedCall[] {
  const call = (
    action: string,
    target: string,
    why: string,
    params?: Record<string, unknown>,
  ): PlannedCall => ({
    kind: "http",
    action,
    target: `/api/vcenter/vm/{vm}/hardware${target}`,
    why,
    ...(params ? { params } : {}),
  });
  return [
    call(
      "GET",
      "/disk/{disk}",
      "Windows: read the cloned system disk's bus; the next steps run only if it is not SATA.",
    ),
    call("POST", "/adapter/sata", "Add a SATA (AHCI) adapter if the clone has none.", { type: "AHCI" }),
    call("DELETE", "/disk/{disk}", "Detach the disk from its SCSI adapter (the VMDK file stays)."),
    call("POST", "/disk", "Attach the same VMDK on SATA: Windows boots from it without extra drivers.", {
      type: "SATA",
      backing: { type: "VMDK_FILE", vmdk_file: "<the system disk's VMDK>" },
    }),
    call("PUT", "/boot/device", "Boot from the SATA disk.", {
      devices: [{ type: "DISK", disks: ["<new disk>"] }],
    }),
  ];
}
