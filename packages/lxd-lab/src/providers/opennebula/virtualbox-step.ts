import { InvalidInputError } from "@labgate/core";
import { type ManualStep, manualStep } from "../../engine/manual-step.js";

/** The NAT rule's name on the VirtualBox VM: one per lab VM, so `natpf1 delete` removes exactly this one. */
export const VBOX_RULE = "labgate-lb";

/** providerOptions.virtualbox: the VirtualBox VM that runs front-end and host, and the port on your machine. */
export interface VirtualBoxForward {
  /** The VM's name (or UUID) as `VBoxManage list vms` shows it. */
  vm: string;
  /** Port on the VirtualBox host (your laptop) that forwards to the exposed LB. */
  hostPort: number;
}

function port(value: unknown, what: string): number {
  if (typeof value !== "number" || !Number.isInteger(value) || value < 1 || value > 65535) {
    throw new InvalidInputError(
      "ONE_OPTION_INVALID",
      `${what} must be a port (1-65535), got ${JSON.stringify(value)}.`,
      {
        hint: "e.g. providerOptions.virtualbox: { vm: one-frontend, hostPort: 8080 }",
      },
    );
  }
  return value;
}

/** Validates providerOptions.virtualbox against the exposure it forwards to. */
export function virtualBoxForward(
  raw: unknown,
  expose: { address: string; port: number } | undefined,
): VirtualBoxForward | undefined {
  if (raw === undefined) return undefined;
  const o = raw as Record<string, unknown>;
  if (
    !raw ||
    typeof raw !== "object" ||
    typeof o.vm !== "string" ||
    o.vm.trim() === "" ||
    /["\r\n]/.test(o.vm)
  ) {
    throw new InvalidInputError(
      "ONE_OPTION_INVALID",
      "providerOptions.virtualbox must be { vm, hostPort }, vm being the VirtualBox VM's name (no double quotes).",
      {
        hint: "e.g. virtualbox: { vm: one-frontend, hostPort: 8080 } (`VBoxManage list vms` shows the names)",
      },
    );
  }
  const hostPort = port(o.hostPort, "providerOptions.virtualbox.hostPort");
  if (!expose) {
    throw new InvalidInputError(
      "ONE_OPTION_INVALID",
      "providerOptions.virtualbox forwards to the load balancer's exposure, but lb.expose is not set.",
      {
        hint: "Set lb.expose { address: 0.0.0.0, port: 8080 } so the host listens where VirtualBox's NAT delivers.",
      },
    );
  }
  // VirtualBox's NAT delivers forwarded connections to the guest's NAT address (10.0.2.15), never to its loopback.
  if (expose.address.startsWith("127.") || expose.address === "::1") {
    throw new InvalidInputError(
      "ONE_OPTION_INVALID",
      `lb.expose.address ${expose.address} is loopback: VirtualBox's NAT port forward arrives on the VM's NAT interface and cannot reach it.`,
      {
        hint: "Expose on 0.0.0.0 (or the VM's NAT address, usually 10.0.2.15) when using providerOptions.virtualbox.",
      },
    );
  }
  return { vm: o.vm, hostPort };
}

const quoted = (vm: string) => (/^[A-Za-z0-9._-]+$/.test(vm) ? vm : `"${vm}"`);

/** The exact VBoxManage commands (double quotes work in sh, PowerShell and cmd alike). */
export function virtualBoxCommands(f: VirtualBoxForward, guestPort: number): { add: string; remove: string } {
  return {
    add: `VBoxManage controlvm ${quoted(f.vm)} natpf1 "${VBOX_RULE},tcp,,${f.hostPort},,${guestPort}"`,
    remove: `VBoxManage controlvm ${quoted(f.vm)} natpf1 delete ${VBOX_RULE}`,
  };
}

/** The last mile of a lab in a VirtualBox VM: your laptop's port forwarded to the LB exposed in the VM. */
export function virtualBoxNatStep(f: VirtualBoxForward, guestPort: number): ManualStep {
  const { add, remove } = virtualBoxCommands(f, guestPort);
  return manualStep({
    id: "one-virtualbox-nat",
    title: `Forward port ${f.hostPort} of your VirtualBox host to the load balancer (you run it)`,
    why: `The load balancer is exposed on port ${guestPort} inside the VirtualBox VM "${f.vm}", whose NAT network is not reachable from your machine. VirtualBox forwards a port of your machine into the VM with a NAT rule, which only the VirtualBox host can add: labgate shows the command, you run it there (the VM may stay running), and confirm. Afterwards http://127.0.0.1:${f.hostPort}/ on your machine reaches the lab. \`lab down\` shows the command that removes the rule.`,
    manual: {
      where: `on the VirtualBox host (the machine running VM "${f.vm}")`,
      commands: [add],
      undoCommands: [remove],
    },
    data: { vm: f.vm, hostPort: f.hostPort, guestPort },
  });
}
