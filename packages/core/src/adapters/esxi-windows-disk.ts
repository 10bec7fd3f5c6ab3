import { httpCall } from "./planned-call.js";
import { isRecord, type Shape, shapes } from "./response-shape.js";
import type { PlannedCall } from "./types.js";

/**
 * One vSphere Automation REST call with the adapter's session (throws PlatformApiError on failure); with a
 * shape, the answer is checked against it (PLATFORM_RESPONSE_INVALID) before it is returned.
 */
export type VsphereRest = <T>(
  method: string,
  path: string,
  body: unknown,
  what: string,
  shape?: Shape<T>,
) => Promise<T>;

interface DiskInfo {
  type?: string;
  backing?: { type?: string; vmdk_file?: string };
}

/** Device ids in vcenter.vm.hardware (disks "2000", SATA adapters "15000") are digits. */
const DEVICE_ID = /^\d{1,9}$/;
const DISK_LIST = shapes.arrayOf({
  expects: 'disk entries ({disk: "2000"})',
  check: (v: unknown) =>
    isRecord(v) && typeof v.disk === "string" && DEVICE_ID.test(v.disk) ? { disk: v.disk } : undefined,
});
const ADAPTER_LIST = shapes.arrayOf({
  expects: 'SATA adapter entries ({adapter: "15000"})',
  check: (v: unknown) => (isRecord(v) && typeof v.adapter === "string" ? { adapter: v.adapter } : undefined),
});
const DISK_INFO = {
  expects: "a disk object (type, backing.vmdk_file)",
  check: (v: unknown) => {
    if (!isRecord(v) || (v.type !== undefined && typeof v.type !== "string")) return undefined;
    const backing = v.backing;
    if (
      backing !== undefined &&
      !(isRecord(backing) && (backing.vmdk_file === undefined || typeof backing.vmdk_file === "string"))
    )
      return undefined;
    return v as DiskInfo;
  },
} satisfies Shape<DiskInfo>;
const DISK_ID = shapes.stringMatching('a disk id ("2000")', DEVICE_ID);

/**
 * Windows has no in-box driver for VMware's paravirtual SCSI (and templates often carry one): re-attach
 * the cloned system disk to a SATA (AHCI) adapter and boot from it. Detaching through the REST API
 * keeps the VMDK file, so the same disk comes back on SATA — the vSphere twin of Proxmox's sata0.
 */
export async function moveSystemDiskToSata(rest: VsphereRest, vm: string): Promise<"moved" | "already-sata"> {
  const base = `/api/vcenter/vm/${encodeURIComponent(vm)}/hardware`;
  const disks = await rest("GET", `${base}/disk`, undefined, "list the clone's disks", DISK_LIST);
  const first = disks[0]?.disk;
  if (first === undefined) return "already-sata";
  const info = await rest("GET", `${base}/disk/${first}`, undefined, `read disk ${first}`, DISK_INFO);
  if (info.type === "SATA" || !info.backing?.vmdk_file) return "already-sata";
  const adapters = await rest(
    "GET",
    `${base}/adapter/sata`,
    undefined,
    "list the SATA adapters",
    ADAPTER_LIST,
  );
  if (adapters.length === 0)
    await rest("POST", `${base}/adapter/sata`, { type: "AHCI" }, "add a SATA (AHCI) adapter");
  await rest("DELETE", `${base}/disk/${first}`, undefined, `detach disk ${first} (the VMDK is kept)`);
  const disk = await rest(
    "POST",
    `${base}/disk`,
    { type: "SATA", backing: { type: "VMDK_FILE", vmdk_file: info.backing.vmdk_file } },
    "attach the system disk on SATA",
    DISK_ID,
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
  const call = (action: string, target: string, why: string, params?: Record<string, unknown>) =>
    httpCall(action, `/api/vcenter/vm/{vm}/hardware${target}`, why, params);
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
