import { pollUntil } from "../../adapters/wait.js";
import { LabgateError, OpenNebulaError } from "../../errors.js";
import { ExitCode } from "../../exit-codes.js";
import type { OpenNebulaClient } from "./client.js";
import type { OneHost, OneImage, OneVm, OneVnet } from "./documents.js";
import { isLcmFailure } from "./states.js";

/**
 * Polling waits for OpenNebula's asynchronous operations (instantiate, host monitoring, image
 * download). Each ends in success, a clear failure naming the state OpenNebula reported, or a
 * timeout; all honour Ctrl-C through the signal.
 */
export interface WaitOptions {
  timeoutMs?: number;
  intervalMs?: number;
  signal?: AbortSignal;
  /** Called whenever the observed state changes, e.g. "ACTIVE/PROLOG". */
  onProgress?: (state: string) => void;
}

function interrupted(): LabgateError {
  return new LabgateError("INTERRUPTED", "Interrupted while waiting for OpenNebula.", {
    exitCode: ExitCode.INTERRUPTED,
    hint: "Run `labgate lab up` again to resume; the resource IDs were recorded before waiting.",
  });
}

type Verdict<T> = { done: true; value: T } | { done: false; state: string } | { failed: OpenNebulaError };

/** core's pollUntil with OpenNebula's verdicts: progress on each state change, ONE_TIMEOUT naming the last state. */
async function poll<T>(what: string, fetchOnce: () => Promise<Verdict<T>>, options: WaitOptions): Promise<T> {
  let last = "";
  const verdict = await pollUntil(
    what,
    async () => {
      const v = await fetchOnce();
      if ("state" in v && v.state !== last) {
        last = v.state;
        options.onProgress?.(v.state);
      }
      return v;
    },
    (v): v is { done: true; value: T } => "done" in v && v.done,
    {
      ...options,
      failed: (v) => ("failed" in v ? v.failed : undefined),
      timedOut: (_, timeoutMs) =>
        new OpenNebulaError(
          "ONE_TIMEOUT",
          `${what} is still ${last} after ${Math.round(timeoutMs / 1000)} s.`,
          {
            exitCode: ExitCode.TIMEOUT,
            hint: "OpenNebula is slow or stuck: look at the resource in Sunstone or with the one* CLI, then re-run to resume.",
          },
        ),
      interrupted,
    },
  );
  return verdict.value;
}

/** Waits for ACTIVE/RUNNING; BOOT_FAILURE, PROLOG_FAILURE, FAILED or DONE end the wait with ONE_VM_FAILED. */
export function waitForVmRunning(
  client: OpenNebulaClient,
  id: number,
  options: WaitOptions = {},
): Promise<OneVm> {
  return poll<OneVm>(
    `VM ${id}`,
    async () => {
      const vm = await client.vmInfo(id);
      if (vm.stateName === "ACTIVE" && vm.lcmStateName === "RUNNING") return { done: true, value: vm };
      if (isLcmFailure(vm.lcmState) || ["FAILED", "DONE", "CLONING_FAILURE"].includes(vm.stateName)) {
        return {
          failed: new OpenNebulaError(
            "ONE_VM_FAILED",
            `VM ${vm.id} (${vm.name}) is ${vm.label}${vm.error ? `: ${vm.error}` : ""}.`,
            {
              details: { vmId: vm.id, state: vm.label },
              hint: `See why with \`onevm show ${vm.id}\` and /var/log/one/${vm.id}.log on the front-end; fix the cause, then \`onevm recover --retry ${vm.id}\` or run \`labgate lab down\` and up again.`,
            },
          ),
        };
      }
      return { done: false, state: vm.label };
    },
    options,
  );
}

export interface HostWaitOptions extends WaitOptions {
  /**
   * How long the host may be in ERROR before the wait gives up (default 0: at once). oned retries
   * monitoring a host in ERROR, so after the host was just fixed (lxd group, restart) it recovers by itself.
   */
  errorGraceMs?: number;
}

/** Waits for MONITORED; ERROR for longer than errorGraceMs ends the wait with ONE_HOST_ERROR (the diagnostics step follows). */
export function waitForHostMonitored(
  client: OpenNebulaClient,
  id: number,
  options: HostWaitOptions = {},
): Promise<OneHost> {
  const grace = options.errorGraceMs ?? 0;
  let errorSince: number | undefined;
  return poll<OneHost>(
    `Host ${id}`,
    async () => {
      const host = await client.hostInfo(id);
      const verdict = hostVerdict(host);
      if (!("failed" in verdict) || verdict.failed.code !== "ONE_HOST_ERROR") {
        errorSince = undefined;
        return verdict;
      }
      errorSince ??= Date.now();
      return Date.now() - errorSince >= grace ? verdict : { done: false, state: host.stateName };
    },
    options,
  );
}

export function hostVerdict(host: OneHost): Verdict<OneHost> {
  if (host.stateName === "MONITORED") return { done: true, value: host };
  if (host.stateName === "ERROR" || host.stateName === "MONITORING_ERROR") return { failed: hostError(host) };
  if (host.stateName === "DISABLED" || host.stateName === "OFFLINE") {
    return {
      failed: new OpenNebulaError(
        "ONE_HOST_DISABLED",
        `Host ${host.name} (ID ${host.id}) is ${host.stateName}.`,
        {
          exitCode: ExitCode.PRECONDITION,
          details: { hostId: host.id, state: host.stateName },
          hint: `Enable it with \`onehost enable ${host.id}\`.`,
        },
      ),
    };
  }
  return { done: false, state: host.stateName };
}

export function hostError(host: OneHost): OpenNebulaError {
  return new OpenNebulaError(
    "ONE_HOST_ERROR",
    `Host ${host.name} (ID ${host.id}) is in ${host.stateName}${host.error ? `: ${host.error}` : ""}.`,
    {
      details: { hostId: host.id, state: host.stateName },
      hint: `Run the host diagnostics (\`onehost show ${host.id}\`, tail /var/log/one/oned.log, getfacl of the LXD socket, \`sudo -u oneadmin lxc version\`); usually oneadmin is not in the lxd group or OpenNebula was not restarted after adding it.`,
    },
  );
}

/** Waits for READY (or USED); ERROR ends the wait with ONE_IMAGE_ERROR. */
export function waitForImageReady(
  client: OpenNebulaClient,
  id: number,
  options: WaitOptions = {},
): Promise<OneImage> {
  return poll<OneImage>(
    `Image ${id}`,
    async () => {
      const image = await client.imageInfo(id);
      if (image.stateName === "READY" || image.stateName === "USED" || image.stateName === "USED_PERS") {
        return { done: true, value: image };
      }
      if (image.stateName === "ERROR") {
        return {
          failed: new OpenNebulaError(
            "ONE_IMAGE_ERROR",
            `Image ${image.name} (ID ${image.id}) is in ERROR${image.error ? `: ${image.error}` : ""}.`,
            {
              details: { imageId: image.id },
              hint: `Check the image source and the datastore (\`oneimage show ${image.id}\`, \`onedatastore show ${image.datastoreId}\`); delete it and re-run.`,
            },
          ),
        };
      }
      return { done: false, state: image.stateName };
    },
    options,
  );
}

/** Waits for READY; ERROR ends the wait with ONE_VNET_ERROR. */
export function waitForVnetReady(
  client: OpenNebulaClient,
  id: number,
  options: WaitOptions = {},
): Promise<OneVnet> {
  return poll<OneVnet>(
    `Virtual network ${id}`,
    async () => {
      const vnet = await client.vnInfo(id);
      if (vnet.stateName === "READY") return { done: true, value: vnet };
      if (vnet.stateName === "ERROR" || vnet.stateName === "UPDATE_FAILURE") {
        return {
          failed: new OpenNebulaError(
            "ONE_VNET_ERROR",
            `Virtual network ${vnet.name} (ID ${vnet.id}) is ${vnet.stateName}.`,
            {
              details: { vnetId: vnet.id },
              hint: `See \`onevnet show ${vnet.id}\` and oned.log; the bridge or driver (${vnet.vnMad || "?"}) could not be set up.`,
            },
          ),
        };
      }
      return { done: false, state: vnet.stateName };
    },
    options,
  );
}

/**
 * Waits for DONE: terminate is asynchronous (SHUTDOWN → EPILOG → DONE, src/lcm/LifeCycleStates.cc); until DONE
 * the VM still holds its image and leases. A VM that no longer exists (NO_EXISTS) counts as gone. A VM that
 * stops in EPILOG_FAILURE or CLEANUP failure ends the wait with ONE_VM_NOT_DONE (recover --delete is the fix).
 */
export function waitForVmDone(
  client: OpenNebulaClient,
  id: number,
  options: WaitOptions = {},
): Promise<OneVm | undefined> {
  return poll<OneVm | undefined>(
    `VM ${id} (terminating)`,
    async () => {
      let vm: OneVm;
      try {
        vm = await client.vmInfo(id);
      } catch (error) {
        if (error instanceof OpenNebulaError && error.code === "ONE_NOT_FOUND")
          return { done: true, value: undefined };
        throw error;
      }
      if (vm.stateName === "DONE") return { done: true, value: vm };
      if (isLcmFailure(vm.lcmState)) {
        return {
          failed: new OpenNebulaError(
            "ONE_VM_NOT_DONE",
            `VM ${vm.id} (${vm.name}) stopped in ${vm.label} while terminating${vm.error ? `: ${vm.error}` : ""}.`,
            {
              details: { vmId: vm.id, state: vm.label },
              hint: `Delete it with \`onevm recover --delete ${vm.id}\` and run \`labgate lab down\` again.`,
            },
          ),
        };
      }
      return { done: false, state: vm.label };
    },
    options,
  );
}
