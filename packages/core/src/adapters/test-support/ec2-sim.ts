import { randomBytes } from "node:crypto";
import { type SimReply, type SimRequest, startSim } from "./http-sim.js";

/**
 * EC2 Query API simulator (API version 2016-11-15): form-encoded Action requests signed with
 * SigV4 (the access key id is checked), XML responses in the EC2 namespace, and XML <Errors>.
 * Instances go pending → running after `pendingPolls` DescribeInstances calls.
 */
export interface SimInstance {
  id: string;
  state: "pending" | "running" | "stopping" | "stopped" | "shutting-down" | "terminated";
  params: Record<string, string>;
  privateIp: string;
  polls: number;
}

const NS = "http://ec2.amazonaws.com/doc/2016-11-15/";
const CODES: Record<SimInstance["state"], number> = {
  pending: 0,
  running: 16,
  "shutting-down": 32,
  terminated: 48,
  stopping: 64,
  stopped: 80,
};

export async function startEc2Sim(options: { accessKeyId: string; pendingPolls?: number }) {
  const instances = new Map<string, SimInstance>();
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
    `<privateIpAddress>${i.privateIp}</privateIpAddress><instanceType>${i.params.InstanceType}</instanceType><subnetId>${i.params.SubnetId ?? ""}</subnetId></item>`;
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
      const missing = wanted.filter((id) => !instances.has(id));
      if (missing.length)
        return error(
          400,
          "InvalidInstanceID.NotFound",
          `The instance ID '${missing.join(", ")}' does not exist`,
        );
      return wanted.map((id) => instances.get(id) as SimInstance);
    };
    switch (p.Action) {
      case "RunInstances": {
        if (!p.ImageId?.startsWith("ami-"))
          return error(400, "InvalidAMIID.Malformed", `Invalid id: "${p.ImageId}"`);
        if (p.MinCount !== "1" || p.MaxCount !== "1")
          return error(400, "InvalidParameterValue", "MinCount and MaxCount must be 1 here");
        const id = `i-${randomBytes(8).toString("hex").slice(0, 17)}`;
        const privateIp = p.PrivateIpAddress ?? `10.0.1.${ipSeq++}`;
        const instance: SimInstance = {
          id,
          state: "pending",
          params: p,
          privateIp,
          polls: options.pendingPolls ?? 1,
        };
        instances.set(id, instance);
        return xml(
          "RunInstances",
          `<reservationId>r-${randomBytes(8).toString("hex")}</reservationId><ownerId>123456789012</ownerId><groupSet/><instancesSet>${item(instance)}</instancesSet>`,
        );
      }
      case "DescribeInstances": {
        const list = find();
        if (!Array.isArray(list)) return list;
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
  const server = await startSim(handle);
  return { ...server, instances };
}
