/**
 * OpenNebula's numeric state tables (include/*.h in OpenNebula 6.x, shown by `onevm show -x`,
 * `onehost show -x` ...). Documents carry numbers; people need the names.
 */
export const HOST_STATES = [
  "INIT",
  "MONITORING_MONITORED",
  "MONITORED",
  "ERROR",
  "DISABLED",
  "MONITORING_ERROR",
  "MONITORING_INIT",
  "MONITORING_DISABLED",
  "OFFLINE",
] as const;
export type HostStateName = (typeof HOST_STATES)[number];

export const VM_STATES = [
  "INIT",
  "PENDING",
  "HOLD",
  "ACTIVE",
  "STOPPED",
  "SUSPENDED",
  "DONE",
  "FAILED",
  "POWEROFF",
  "UNDEPLOYED",
  "CLONING",
  "CLONING_FAILURE",
] as const;
export type VmStateName = (typeof VM_STATES)[number];

export const LCM_STATES = [
  "LCM_INIT",
  "PROLOG",
  "BOOT",
  "RUNNING",
  "MIGRATE",
  "SAVE_STOP",
  "SAVE_SUSPEND",
  "SAVE_MIGRATE",
  "PROLOG_MIGRATE",
  "PROLOG_RESUME",
  "EPILOG_STOP",
  "EPILOG",
  "SHUTDOWN",
  "CANCEL",
  "FAILURE",
  "CLEANUP_RESUBMIT",
  "UNKNOWN",
  "HOTPLUG",
  "SHUTDOWN_POWEROFF",
  "BOOT_UNKNOWN",
  "BOOT_POWEROFF",
  "BOOT_SUSPENDED",
  "BOOT_STOPPED",
  "CLEANUP_DELETE",
  "HOTPLUG_SNAPSHOT",
  "HOTPLUG_NIC",
  "HOTPLUG_SAVEAS",
  "HOTPLUG_SAVEAS_POWEROFF",
  "HOTPLUG_SAVEAS_SUSPENDED",
  "SHUTDOWN_UNDEPLOY",
  "EPILOG_UNDEPLOY",
  "PROLOG_UNDEPLOY",
  "BOOT_UNDEPLOY",
  "HOTPLUG_PROLOG_POWEROFF",
  "HOTPLUG_EPILOG_POWEROFF",
  "BOOT_MIGRATE",
  "BOOT_FAILURE",
  "BOOT_MIGRATE_FAILURE",
  "PROLOG_MIGRATE_FAILURE",
  "PROLOG_FAILURE",
  "EPILOG_FAILURE",
  "EPILOG_STOP_FAILURE",
  "EPILOG_UNDEPLOY_FAILURE",
  "PROLOG_MIGRATE_POWEROFF",
  "PROLOG_MIGRATE_POWEROFF_FAILURE",
  "PROLOG_MIGRATE_SUSPEND",
  "PROLOG_MIGRATE_SUSPEND_FAILURE",
  "BOOT_UNDEPLOY_FAILURE",
  "BOOT_STOPPED_FAILURE",
  "PROLOG_RESUME_FAILURE",
  "PROLOG_UNDEPLOY_FAILURE",
  "DISK_SNAPSHOT_POWEROFF",
  "DISK_SNAPSHOT_REVERT_POWEROFF",
  "DISK_SNAPSHOT_DELETE_POWEROFF",
  "DISK_SNAPSHOT_SUSPENDED",
  "DISK_SNAPSHOT_REVERT_SUSPENDED",
  "DISK_SNAPSHOT_DELETE_SUSPENDED",
  "DISK_SNAPSHOT",
  "DISK_SNAPSHOT_REVERT",
  "DISK_SNAPSHOT_DELETE",
  "PROLOG_MIGRATE_UNKNOWN",
  "PROLOG_MIGRATE_UNKNOWN_FAILURE",
  "DISK_RESIZE",
  "DISK_RESIZE_POWEROFF",
  "DISK_RESIZE_UNDEPLOYED",
  "HOTPLUG_NIC_POWEROFF",
  "HOTPLUG_RESIZE",
  "HOTPLUG_SAVEAS_UNDEPLOYED",
  "HOTPLUG_SAVEAS_STOPPED",
  "BACKUP",
  "BACKUP_POWEROFF",
  // 6.10 (include/VirtualMachine.h): restoring a backup; the table must reach 71 or the state reads as a number.
  "RESTORE",
] as const;
export type LcmStateName = (typeof LCM_STATES)[number];

export const IMAGE_STATES = [
  "INIT",
  "READY",
  "USED",
  "DISABLED",
  "LOCKED",
  "ERROR",
  "CLONE",
  "DELETE",
  "USED_PERS",
  "LOCKED_USED",
  "LOCKED_USED_PERS",
] as const;
export type ImageStateName = (typeof IMAGE_STATES)[number];

export const VNET_STATES = [
  "INIT",
  "READY",
  "LOCK_CREATE",
  "LOCK_DELETE",
  "DONE",
  "ERROR",
  "UPDATE_FAILURE",
] as const;
export type VnetStateName = (typeof VNET_STATES)[number];

function nameOf(table: readonly string[], value: number): string {
  return table[value] ?? `UNKNOWN(${value})`;
}

export const hostStateName = (n: number): string => nameOf(HOST_STATES, n);
export const vmStateName = (n: number): string => nameOf(VM_STATES, n);
export const lcmStateName = (n: number): string => nameOf(LCM_STATES, n);
export const imageStateName = (n: number): string => nameOf(IMAGE_STATES, n);
export const vnetStateName = (n: number): string => nameOf(VNET_STATES, n);

/** The numeric value of a state name, for the simulator and for filters. */
export function stateValue<T extends readonly string[]>(table: T, name: T[number]): number {
  return table.indexOf(name);
}

/** Failure LCM states: the VM will not reach RUNNING without a person acting. */
export function isLcmFailure(lcm: number): boolean {
  return lcmStateName(lcm).endsWith("_FAILURE") || lcmStateName(lcm) === "FAILURE";
}

/** One-line human state of a VM, the way `onevm list` shows it. */
export function vmStateLabel(state: number, lcm: number): string {
  return vmStateName(state) === "ACTIVE" ? `ACTIVE/${lcmStateName(lcm)}` : vmStateName(state);
}
