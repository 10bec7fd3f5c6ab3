import { randomBytes } from "node:crypto";
import { escapeXml } from "@labgate/core";
import {
  type SimReply,
  type SimRequest,
  startSim,
} from "../../../core/src/adapters/test-support/http-sim.js";

/**
 * EC2 Query API simulator (API version 2016-11-15): form-encoded Action requests signed with
 * SigV4 (the access key id is checked), XML responses in the EC2 namespace, and XML <Errors>.
 * Instances go pending → running after `pendingPolls` DescribeInstances calls.
 *
 * Modelled from AWS's documentation:
 * - Eventual consistency (ec2/latest/devguide/eventual-consistency.html): right after RunInstances, calls
 *   naming the new id may answer InvalidInstanceID.NotFound although the instance exists; the first
 *   `invisibleCalls` calls per new instance do so here, TerminateInstances included (which then does nothing).
 * - Root device names (ec2/latest/UserGuide/device_naming.html, RegisterImage/DescribeImages RootDeviceName):
 *   each AMI has its RootDeviceName and snapshot size; a BlockDeviceMapping under that name resizes the root
 *   volume (never below the snapshot: InvalidBlockDeviceMapping), under another name it adds a second volume.
 * - Tag-on-create authorization (ec2/latest/UserGuide/supported-iam-actions-tagging.html): RunInstances with
 *   TagSpecifications needs ec2:CreateTags; actions in `denied` answer UnauthorizedOperation.
 * - Idempotency (ec2/latest/devguide/ec2-api-idempotency.html): RunInstances with a ClientToken seen before
 *   returns the instance that request made (same parameters) instead of launching another;
 *   IdempotentParameterMismatch when the parameters differ, IdempotentInstanceTerminated once it is terminated.
 * - DescribeInstances filters (APIReference/API_DescribeInstances.html): Filter.N.Name with Filter.N.Value.M —
 *   tag:<key>, instance-state-name, client-token; values of one filter are ORed, filters ANDed; tagSet and
 *   clientToken in each instance item. A new instance's `invisibleCalls` hide it from listings too.
 */
export interface SimInstance {
  id: string;
  state: "pending" | "running" | "stopping" | "stopped" | "shutting-down" | "terminated";
  params: Record<string, string>;
  privateIp: string;
  polls: number;
  /** Calls left that answer InvalidInstanceID.NotFound (not propagated yet). */
  invisible: number;
  /** Attached EBS volumes by device name; the root one is under the AMI's RootDeviceName. */
  volumes: Record<string, { sizeGb: number; root: boolean }>;
  /** Tags from TagSpecifications (ResourceType instance). */
  tags: Record<string, string>;
  clientToken?: string;
}

export interface SimImage {
  rootDeviceName: string;
  /** Size of the root snapshot in GiB: the root volume's default and minimum size. */
  sizeGb: number;
}

/** Two real-world layouts: Ubuntu AMIs boot from /dev/sda1, Amazon Linux AMIs from /dev/xvda. */
export const SIM_IMAGES: Record<string, SimImage> = {
  "ami-0abcdef1234567890": { rootDeviceName: "/dev/sda1", sizeGb: 8 },
  "ami-0a1b2c3d4e5f60718": { rootDeviceName: "/dev/xvda", sizeGb: 8 },
};

const NS = "http://ec2.amazonaws.com/doc/2016-11-15/";
const CODES: Record<SimInstance["state"], number> = {
  pending: 0,
  running: 16,
  "shutting-down": 32,
  terminated: 48,
  stopping: 64,
  stopped: 80,
};

export async function startEc2Sim(options: {
  accessKeyId: string;
  pendingPolls?: number;
  invisibleCalls?: number;
  images?: Record<string, SimImage>;
  /** IAM actions the caller's policy lacks, e.g. ["ec2:CreateTags"]. */
  denied?: string[];
  /** Replaces an answer (a proxy's login page, a changed API): gets each request and the simulator's own reply. */
  intercept?: (req: SimRequest, reply: SimReply) => SimReply | Promise<SimReply>;
}) {
  const instances = new Map<string, SimInstance>();
  const images = options.images ?? SIM_IMAGES;
  const denied = new Set(options.denied ?? []);
  let ipSeq = 10;
  const requestId = () => randomBytes(8).toString("hex");
  const error = (status: number, code: string, message: string): SimReply => ({
    status,
    text: `<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error><Code>${code}</Code><Message>${message}</Message></Error></Errors><RequestID>${requestId()}</RequestID></Response>`,
  });
  const xml = (action: string, inner: string): SimReply => ({
    status: 200,
    text: `<?xml version="1.0" encoding="UTF-8"?>\n<${action}Response xmlns="${NS}"><requestId>${requestId()}</requestId>${inner}</${action}Response>`,
  });
  const item = (i: SimInstance) =>
    `<item><instanceId>${i.id}</instanceId><imageId>${i.params.ImageId}</imageId><instanceState><code>${CODES[i.state]}</code><name>${i.state}</name></instanceState>` +
    `<privateIpAddress>${i.privateIp}</privateIpAddress><instanceType>${i.params.InstanceType}</instanceType><subnetId>${i.params.SubnetId ?? ""}</subnetId>` +
    `<clientToken>${escapeXml(i.clientToken ?? "")}</clientToken><tagSet>${Object.entries(i.tags)
      .map(([k, v]) => `<item><key>${escapeXml(k)}</key><value>${escapeXml(v)}</value></item>`)
      .join("")}</tagSet></item>`;
  /** Filter.N.Name / Filter.N.Value.M: every filter must match one of its values. */
  const matchesFilters = (i: SimInstance, p: Record<string, string>): boolean => {
    for (const [key, name] of Object.entries(p)) {
      const n = /^Filter\.(\d+)\.Name$/.exec(key)?.[1];
      if (!n) continue;
      const values = Object.entries(p)
        .filter(([k]) => k.startsWith(`Filter.${n}.Value.`))
        .map(([, v]) => v);
      const actual = name.startsWith("tag:")
        ? i.tags[name.slice(4)]
        : name === "instance-state-name"
          ? i.state
          : name === "client-token"
            ? i.clientToken
            : undefined;
      if (actual === undefined || !values.includes(actual)) return false;
    }
    return true;
  };
  const ids = (p: Record<string, string>) =>
    Object.entries(p)
      .filter(([k]) => /^InstanceId\.\d+$/.test(k))
      .map(([, v]) => v);
  const stateChange = (action: string, list: SimInstance[], next: (i: SimInstance) => SimInstance["state"]) =>
    xml(
      action,
      `<instancesSet>${list
        .map((i) => {
          const previous = i.state;
          i.state = next(i);
          return `<item><instanceId>${i.id}</instanceId><currentState><code>${CODES[i.state]}</code><name>${i.state}</name></currentState><previousState><code>${CODES[previous]}</code><name>${previous}</name></previousState></item>`;
        })
        .join("")}</instancesSet>`,
    );

  const handle = (req: SimRequest): SimReply => {
    const auth = String(req.headers.authorization ?? "");
    if (!auth.startsWith(`AWS4-HMAC-SHA256 Credential=${options.accessKeyId}/`))
      return error(401, "AuthFailure", "AWS was not able to validate the provided access credentials");
    const p = req.form;
    if (p.Version !== "2016-11-15")
      return error(400, "InvalidParameterValue", `Unsupported Version ${p.Version}`);
    const find = (): SimInstance[] | SimReply => {
      const wanted = ids(p);
      const hidden = wanted.filter((id) => {
        const i = instances.get(id);
        return i !== undefined && i.invisible-- > 0;
      });
      const missing = wanted.filter((id) => !instances.has(id)).concat(hidden);
      if (missing.length)
        return error(
          400,
          "InvalidInstanceID.NotFound",
          `The instance ID '${missing.join(", ")}' does not exist`,
        );
      return wanted.map((id) => instances.get(id) as SimInstance);
    };
    const unauthorized = (action: string) =>
      error(
        403,
        "UnauthorizedOperation",
        `You are not authorized to perform this operation. User: arn:aws:iam::123456789012:user/lab is not authorized to perform: ${action} because no identity-based policy allows the ${action} action`,
      );
    if (denied.has(`ec2:${p.Action}`)) return unauthorized(`ec2:${p.Action}`);
    switch (p.Action) {
      case "DescribeImages": {
        const wanted = Object.entries(p)
          .filter(([k]) => /^ImageId\.\d+$/.test(k))
          .map(([, v]) => v);
        const malformed = wanted.find((id) => !/^ami-[0-9a-f]{8,17}$/.test(id));
        if (malformed) return error(400, "InvalidAMIID.Malformed", `Invalid id: "${malformed}"`);
        const unknown = wanted.filter((id) => !images[id]);
        if (unknown.length)
          return error(400, "InvalidAMIID.NotFound", `The image id '[${unknown.join(", ")}]' does not exist`);
        return xml(
          "DescribeImages",
          `<imagesSet>${wanted
            .map((id) => {
              const img = images[id] as SimImage;
              return `<item><imageId>${id}</imageId><imageState>available</imageState><rootDeviceType>ebs</rootDeviceType><rootDeviceName>${img.rootDeviceName}</rootDeviceName><blockDeviceMapping><item><deviceName>${img.rootDeviceName}</deviceName><ebs><snapshotId>snap-0${id.slice(4, 20)}</snapshotId><volumeSize>${img.sizeGb}</volumeSize><deleteOnTermination>true</deleteOnTermination><volumeType>gp3</volumeType></ebs></item></blockDeviceMapping></item>`;
            })
            .join("")}</imagesSet>`,
        );
      }
      case "RunInstances": {
        if (!p.ImageId?.startsWith("ami-"))
          return error(400, "InvalidAMIID.Malformed", `Invalid id: "${p.ImageId}"`);
        const image = images[p.ImageId];
        if (!image)
          return error(400, "InvalidAMIID.NotFound", `The image id '[${p.ImageId}]' does not exist`);
        if (p.MinCount !== "1" || p.MaxCount !== "1")
          return error(400, "InvalidParameterValue", "MinCount and MaxCount must be 1 here");
        if (Object.keys(p).some((k) => k.startsWith("TagSpecification.")) && denied.has("ec2:CreateTags"))
          return unauthorized("ec2:CreateTags");
        const same = p.ClientToken
          ? [...instances.values()].find((i) => i.clientToken === p.ClientToken)
          : undefined;
        if (same) {
          const { ClientToken: _a, ...now } = p;
          const { ClientToken: _b, ...then } = same.params;
          if (JSON.stringify(now) !== JSON.stringify(then))
            return error(
              400,
              "IdempotentParameterMismatch",
              "The client token you have provided is associated with a resource that is already deleted or with different parameters.",
            );
          if (same.state === "terminated")
            return error(
              400,
              "IdempotentInstanceTerminated",
              `The client token ${p.ClientToken} was used for instance ${same.id}, which has been terminated.`,
            );
          return xml(
            "RunInstances",
            `<reservationId>r-${randomBytes(8).toString("hex")}</reservationId><ownerId>123456789012</ownerId><groupSet/><instancesSet>${item(same)}</instancesSet>`,
          );
        }
        const tags: Record<string, string> = {};
        for (const [key, value] of Object.entries(p)) {
          const m = /^TagSpecification\.(\d+)\.Tag\.(\d+)\.Key$/.exec(key);
          if (m) tags[value] = p[`TagSpecification.${m[1]}.Tag.${m[2]}.Value`] ?? "";
        }
        const volumes: SimInstance["volumes"] = {
          [image.rootDeviceName]: { sizeGb: image.sizeGb, root: true },
        };
        for (const [key, device] of Object.entries(p)) {
          const n = /^BlockDeviceMapping\.(\d+)\.DeviceName$/.exec(key)?.[1];
          if (!n) continue;
          const size = Number(p[`BlockDeviceMapping.${n}.Ebs.VolumeSize`] ?? image.sizeGb);
          const root = device === image.rootDeviceName;
          if (root && size < image.sizeGb)
            return error(
              400,
              "InvalidBlockDeviceMapping",
              `Volume of size ${size}GB is smaller than snapshot, expect size >= ${image.sizeGb}GB`,
            );
          if (!/^\/dev\/(sd[a-z]\d*|xvd[a-z]+)$/.test(device))
            return error(400, "InvalidBlockDeviceMapping", `Invalid device name ${device}`);
          volumes[device] = { sizeGb: size, root };
        }
        const id = `i-${randomBytes(8).toString("hex").slice(0, 17)}`;
        const privateIp = p.PrivateIpAddress ?? `10.0.1.${ipSeq++}`;
        const instance: SimInstance = {
          id,
          state: "pending",
          params: p,
          privateIp,
          polls: options.pendingPolls ?? 1,
          invisible: options.invisibleCalls ?? 0,
          volumes,
          tags,
          ...(p.ClientToken ? { clientToken: p.ClientToken } : {}),
        };
        instances.set(id, instance);
        return xml(
          "RunInstances",
          `<reservationId>r-${randomBytes(8).toString("hex")}</reservationId><ownerId>123456789012</ownerId><groupSet/><instancesSet>${item(instance)}</instancesSet>`,
        );
      }
      case "DescribeInstances": {
        // Without instance ids: every instance (terminated ones stay visible a while), then the filters.
        const found = ids(p).length > 0 ? find() : [...instances.values()];
        if (!Array.isArray(found)) return found;
        const listing = ids(p).length === 0;
        const list = found.filter((i) => matchesFilters(i, p) && !(listing && i.invisible-- > 0));
        for (const i of list) {
          if (i.state === "pending" && i.polls-- <= 0) i.state = "running";
          else if (i.state === "stopping") i.state = "stopped";
          else if (i.state === "shutting-down") i.state = "terminated";
        }
        return xml(
          "DescribeInstances",
          `<reservationSet>${list.map((i) => `<item><reservationId>r-1</reservationId><ownerId>123456789012</ownerId><groupSet/><instancesSet>${item(i)}</instancesSet></item>`).join("")}</reservationSet>`,
        );
      }
      case "StartInstances": {
        const list = find();
        if (!Array.isArray(list)) return list;
        if (list.some((i) => i.state === "terminated"))
          return error(
            400,
            "IncorrectInstanceState",
            "The instance is not in a state from which it can be started.",
          );
        return stateChange("StartInstances", list, (i) => (i.state === "running" ? "running" : "pending"));
      }
      case "StopInstances": {
        const list = find();
        if (!Array.isArray(list)) return list;
        return stateChange("StopInstances", list, (i) => (i.state === "stopped" ? "stopped" : "stopping"));
      }
      case "TerminateInstances": {
        const list = find();
        if (!Array.isArray(list)) return list;
        return stateChange("TerminateInstances", list, (i) =>
          i.state === "terminated" ? "terminated" : "shutting-down",
        );
      }
      default:
        return error(400, "InvalidAction", `The action ${p.Action} is not valid for this web service.`);
    }
  };
  const intercept = options.intercept;
  const server = await startSim(intercept ? (req) => intercept(req, handle(req)) : handle);
  return { ...server, instances };
}
