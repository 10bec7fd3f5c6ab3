import { deviceDrift, getLxdInstance, type LxdDevice, PreconditionError } from "@labgate/core";
import type { StepCall, StepDescription } from "../../engine/plan-step.js";
import type { LabStep } from "../../engine/step.js";
import { PortInUseError, StepFailedError } from "../../errors.js";
import { canListen, describePortOwners, findPortOwners } from "../local/port-owner.js";
import { probeServedBy } from "./lab-payloads.js";
import { EXPOSE_DEVICE, LAB_MARKER_KEY, type LxdLabOptions } from "./lxd-lab-options.js";
import type { LxdClientFactory } from "./lxd-runtime.js";
import { lxdUndoCalls } from "./undo-calls.js";

/** The proxy device: LXD listens on the host and forwards each connection into the LB container. */
export function exposeDevice(o: LxdLabOptions): LxdDevice {
  return {
    type: "proxy",
    listen: `tcp:${o.expose.address}:${o.expose.port}`,
    connect: `tcp:127.0.0.1:${o.lb.port}`,
    bind: "host",
  };
}

export function exposeUrl(o: LxdLabOptions): string {
  return `http://${o.expose.address}:${o.expose.port}/`;
}

/** LXD's PATCH merges devices: the client removes one with a PUT of the instance without it (removeDevice). */
export function removeDeviceCall(o: LxdLabOptions): StepCall {
  return {
    kind: "http",
    display: `PUT /1.0/instances/${o.lb.instance}   # the instance as it is, without device ${EXPOSE_DEVICE}`,
  };
}

/** What check saw of the LB container: whether it is there and this lab's, and whether it has a device of that name. */
export interface ExposeFacts {
  lb?: { ours: boolean; hasDevice: boolean };
}

export function exposeStep(o: LxdLabOptions, clientFor: LxdClientFactory): LabStep<ExposeFacts> {
  const id = "expose-lb";
  const device = exposeDevice(o);
  const patch = { devices: { [EXPOSE_DEVICE]: device } };
  const inspect = async () => {
    const instance = await getLxdInstance(clientFor(o), o.lb.instance);
    const drift = instance ? deviceDrift({ [EXPOSE_DEVICE]: device }, instance.devices) : [EXPOSE_DEVICE];
    return { instance, present: drift.length === 0 };
  };
  const description: StepDescription = {
    id,
    title: `Expose the load balancer on ${o.expose.address}:${o.expose.port}`,
    why:
      `The lab's containers live on ${o.bridge}; an LXD proxy device on ${o.lb.instance} listens on the host at ` +
      `${o.expose.address}:${o.expose.port} and forwards each connection to HAProxy's port ${o.lb.port} inside the ` +
      "container, so you and the bench reach the service at one stable host address.",
    calls: [
      { kind: "http", display: `PATCH /1.0/instances/${o.lb.instance} ${JSON.stringify(patch)}` },
      {
        display: `# same as: lxc config device add ${o.lb.instance} ${EXPOSE_DEVICE} proxy listen=${device.listen} connect=${device.connect} bind=host`,
      },
    ],
    undoCalls: lxdUndoCalls(o, id) ?? [],
    diagnostics: [`lxc config device show ${o.lb.instance}`, `ss -ltnp 'sport = :${o.expose.port}'`],
  };
  return {
    description,
    // A device of that name with other settings is removed first (a PUT of the instance without it).
    current: (_ctx, found) =>
      found && !found.done && found.facts.lb?.hasDevice
        ? { ...description, calls: [removeDeviceCall(o), ...description.calls] }
        : description,
    actions: {
      async check() {
        const { instance, present } = await inspect();
        const facts: ExposeFacts = instance
          ? {
              lb: {
                ours: instance.config[LAB_MARKER_KEY] === o.lab,
                hasDevice: !!instance.devices[EXPOSE_DEVICE],
              },
            }
          : {};
        if (!present) return { done: false, detail: `no ${EXPOSE_DEVICE} device on ${o.lb.instance}`, facts };
        return { done: true, detail: `${exposeUrl(o)} → ${o.lb.instance}:${o.lb.port}`, facts };
      },
      async apply(ctx, found) {
        const { lb } = found.facts;
        if (!lb?.ours) {
          throw new PreconditionError(
            "LXD_INSTANCE_MISSING",
            `The load balancer ${o.lb.instance} is not there to expose.`,
            {
              hint: `Run \`labgate lab up --from launch-${o.lb.name}\`.`,
            },
          );
        }
        if (found.done) return;
        if (!lb.hasDevice && !(await canListen(o.expose.address, o.expose.port))) {
          const owners = await findPortOwners(o.expose.port);
          throw new PortInUseError(
            `${o.expose.address}:${o.expose.port} is already taken on this host by ${describePortOwners(owners)}.`,
            'Stop that, or choose another "lb": {"expose": {"address": ..., "port": ...}} in the lab spec.',
            { address: o.expose.address, port: o.expose.port },
          );
        }
        await ctx.record({
          kind: "proxy-device",
          id: `${o.lb.instance}/${EXPOSE_DEVICE}`,
          stepId: id,
          data: { ...device },
        });
        // A device of that name with other settings is replaced: LXD's PATCH merges devices.
        if (lb.hasDevice)
          await clientFor(o).removeDevice(o.lb.instance, EXPOSE_DEVICE, { signal: ctx.signal });
        await clientFor(o).patchInstance(o.lb.instance, patch, { signal: ctx.signal });
      },
      async verify(ctx) {
        const { present } = await inspect();
        if (!present)
          throw new StepFailedError(id, `The ${EXPOSE_DEVICE} device is missing on ${o.lb.instance}.`);
        const problem = await probeServedBy(
          `${exposeUrl(o)}health`,
          o.apps.map((a) => a.instance),
          ctx.signal,
        );
        if (problem) {
          throw new StepFailedError(
            id,
            `The load balancer does not answer through the proxy device: ${problem}.`,
            {
              hint: `lxc config device show ${o.lb.instance}; curl -v ${exposeUrl(o)}health`,
            },
          );
        }
      },
      async undo(ctx) {
        const client = clientFor(o);
        const instance = await getLxdInstance(client, o.lb.instance);
        if (instance && instance.config[LAB_MARKER_KEY] === o.lab) {
          await client.removeDevice(o.lb.instance, EXPOSE_DEVICE, { signal: ctx.signal });
        }
        await ctx.forget("proxy-device", `${o.lb.instance}/${EXPOSE_DEVICE}`);
      },
    },
  };
}
