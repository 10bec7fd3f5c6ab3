import { describeValue, invalidResponse } from "../../adapters/response-shape.js";
import { OpenNebulaError } from "../../errors.js";
import { ExitCode } from "../../exit-codes.js";
import { redact } from "../../util/redact.js";
import {
  type OneHost,
  type OneImage,
  type OneMarketApp,
  type OneTemplate,
  type OneVm,
  type OneVnet,
  parseHost,
  parseHostPool,
  parseImage,
  parseImagePool,
  parseMarketApp,
  parseMarketAppPool,
  parseTemplate,
  parseTemplatePool,
  parseVm,
  parseVmPool,
  parseVnet,
  parseVnetPool,
} from "./documents.js";
import { oneApiError } from "./one-errors.js";
import { type OpenNebulaConnectionConfig, type ResolvedConnection, resolveConnection } from "./session.js";
import { toTemplateXml } from "./template-xml.js";
import { decodeMethodResponse, encodeMethodCall, type XmlRpcParam, type XmlRpcValue } from "./xmlrpc.js";

export interface OpenNebulaClientOptions extends OpenNebulaConnectionConfig {
  /** Per-call timeout (default 20 s). */
  timeoutMs?: number;
  /** Called before each call with a printable description (session elided). */
  onCall?: (description: string) => void;
}

/** VM actions accepted by one.vm.action (API reference, "The action String must be one of"). */
export type VmAction =
  | "terminate-hard"
  | "terminate"
  | "undeploy-hard"
  | "undeploy"
  | "poweroff-hard"
  | "poweroff"
  | "reboot-hard"
  | "reboot"
  | "hold"
  | "release"
  | "stop"
  | "suspend"
  | "resume"
  | "resched"
  | "unresched";

/** Pool filter flag: -2 every resource the user may use, -3 the user's own, -1 the user's and group's. */
const ALL = -2;

/** Printable form of a call, the way a step lists it: the session is never shown. */
export function describeCall(method: string, params: readonly XmlRpcParam[]): string {
  const shown = params.map((p) => {
    if (typeof p === "string") return JSON.stringify(p.length > 80 ? `${p.slice(0, 77)}...` : p);
    return JSON.stringify(p);
  });
  return redact(`${method}(<session>${shown.length ? `, ${shown.join(", ")}` : ""})`);
}

/**
 * Typed OpenNebula XML-RPC client. Each method is one API call; failures become OpenNebulaError
 * with a stable code (ONE_AUTH_FAILED, ONE_UNREACHABLE, ONE_NOT_FOUND ...) and never the session.
 */
export class OpenNebulaClient {
  readonly endpoint: string;
  readonly sessionSource: string;
  readonly #session: string;
  readonly #timeoutMs: number;
  readonly #onCall: ((description: string) => void) | undefined;

  constructor(options: OpenNebulaClientOptions) {
    const connection: ResolvedConnection = resolveConnection(options);
    this.endpoint = connection.endpoint;
    this.sessionSource = connection.sessionSource;
    this.#session = connection.session;
    this.#timeoutMs = options.timeoutMs ?? 20_000;
    this.#onCall = options.onCall;
  }

  /** Keeps the session out of console.log / JSON.stringify of the client. */
  toJSON(): Record<string, string> {
    return { endpoint: this.endpoint, sessionSource: this.sessionSource };
  }

  /** Raw call: returns the second element of the response array on success. */
  async call(method: string, ...params: XmlRpcParam[]): Promise<XmlRpcValue> {
    this.#onCall?.(describeCall(method, params));
    const body = encodeMethodCall(method, [this.#session, ...params]);
    let responseText: string;
    let contentType = "";
    let status = 0;
    try {
      const response = await fetch(this.endpoint, {
        method: "POST",
        headers: { "content-type": "text/xml" },
        body,
        signal: AbortSignal.timeout(this.#timeoutMs),
      });
      responseText = await response.text();
      contentType = response.headers.get("content-type") ?? "";
      status = response.status;
      if (!response.ok) {
        throw new OpenNebulaError(
          "ONE_PROTOCOL_ERROR",
          redact(`${method}: ${this.endpoint} answered HTTP ${response.status} ${response.statusText}.`),
          {
            method,
            hint: "Is this the XML-RPC endpoint of oned (http://FRONTEND:2633/RPC2) and not Sunstone's web port?",
          },
        );
      }
    } catch (error) {
      if (error instanceof OpenNebulaError) throw error;
      throw this.#unreachable(method, error);
    }
    const shown = { status, headers: { "content-type": contentType }, text: responseText };
    let decoded: ReturnType<typeof decodeMethodResponse>;
    try {
      decoded = decodeMethodResponse(responseText);
    } catch (cause) {
      throw Object.assign(this.#invalid(method, `not XML-RPC: ${(cause as Error).message}`, shown), {
        cause,
      });
    }
    if (!decoded.ok) {
      throw new OpenNebulaError(
        "ONE_PROTOCOL_ERROR",
        redact(`${method}: XML-RPC fault ${decoded.fault.faultCode}: ${decoded.fault.faultString}`),
        {
          method,
          hint: "The server does not know this method or its parameters; check the OpenNebula version.",
        },
      );
    }
    const result = decoded.value;
    if (!Array.isArray(result) || typeof result[0] !== "boolean" || result.length < 2)
      throw this.#invalid(
        method,
        `expected the array [success, result, error code], got ${describeValue(result)}`,
        shown,
      );
    if (!result[0]) {
      const code = typeof result[2] === "number" ? result[2] : -1;
      throw oneApiError(method, code, String(result[1] ?? ""));
    }
    return result[1] as XmlRpcValue;
  }

  #unreachable(method: string, error: unknown): OpenNebulaError {
    const err = error as { name?: string; message?: string; cause?: { code?: string; message?: string } };
    const timedOut = err.name === "TimeoutError" || err.name === "AbortError";
    const reason = timedOut
      ? `no answer within ${this.#timeoutMs} ms`
      : (err.cause?.code ?? err.cause?.message ?? err.message);
    return new OpenNebulaError(
      "ONE_UNREACHABLE",
      redact(`${method}: cannot reach OpenNebula at ${this.endpoint}: ${reason}.`),
      {
        exitCode: ExitCode.PRECONDITION,
        method,
        hint: "Check the endpoint (ONE_XMLRPC / providerOptions.endpoint), that oned is running (`systemctl status opennebula`) and that port 2633 is open to this machine.",
        cause: error,
      },
    );
  }

  /**
   * PLATFORM_RESPONSE_INVALID (exit 5): the answer is not what oned returns (a proxy's or Sunstone's page, a
   * truncated body, another API); nothing is built from it. An XML-RPC fault stays ONE_PROTOCOL_ERROR.
   */
  #invalid(
    method: string,
    problem: string,
    res?: { status: number; headers: Record<string, string>; text: string },
  ) {
    return invalidResponse(
      "opennebula",
      `${method} (${this.endpoint})`,
      problem,
      res,
      "http://FRONTEND:2633/RPC2",
      "Check that the endpoint is oned's XML-RPC server (port 2633, path /RPC2), not Sunstone or a proxy, and that its OpenNebula version is supported; the start of the answer is in the details.",
    );
  }

  /** The ID of what a call created: an integer >= 0 (OpenNebula's object IDs), never -1 or a fraction. */
  async #id(method: string, ...params: XmlRpcParam[]): Promise<number> {
    const value = await this.call(method, ...params);
    if (typeof value !== "number" || !Number.isInteger(value) || value < 0)
      throw this.#invalid(
        method,
        `expected an ID (an integer >= 0) as the result, got ${describeValue(value)}`,
      );
    return value;
  }

  async #xml(method: string, ...params: XmlRpcParam[]): Promise<string> {
    const value = await this.call(method, ...params);
    if (typeof value !== "string")
      throw this.#invalid(method, `expected an XML document as the result, got ${describeValue(value)}`);
    return value;
  }

  async #document<T>(method: string, parse: (xml: string) => T, ...params: XmlRpcParam[]): Promise<T> {
    const xml = await this.#xml(method, ...params);
    try {
      return parse(xml);
    } catch (cause) {
      throw Object.assign(
        this.#invalid(method, redact((cause as Error).message), {
          status: 200,
          headers: { "content-type": "text/xml (XML-RPC result)" },
          text: xml,
        }),
        { cause },
      );
    }
  }

  // --- system
  version(): Promise<string> {
    return this.#xml("one.system.version");
  }

  // --- hosts
  hostPool(): Promise<OneHost[]> {
    return this.#document("one.hostpool.info", parseHostPool);
  }
  hostInfo(id: number): Promise<OneHost> {
    return this.#document("one.host.info", parseHost, id);
  }
  /** Adds a host: `onehost create NAME -i IM_MAD -v VMM_MAD`. */
  hostAllocate(hostname: string, imMad: string, vmMad: string, clusterId = -1): Promise<number> {
    return this.#id("one.host.allocate", hostname, imMad, vmMad, clusterId);
  }
  async findHost(name: string): Promise<OneHost | undefined> {
    return (await this.hostPool()).find((h) => h.name === name);
  }

  // --- virtual networks
  vnPool(): Promise<OneVnet[]> {
    return this.#document("one.vnpool.info", parseVnetPool, ALL, -1, -1);
  }
  vnInfo(id: number): Promise<OneVnet> {
    return this.#document("one.vn.info", parseVnet, id);
  }
  vnAllocate(templateXml: string, clusterId = -1): Promise<number> {
    return this.#id("one.vn.allocate", templateXml, clusterId);
  }
  /** Holds a lease so OpenNebula never hands it out: `onevnet hold ID IP`. */
  async vnHold(id: number, ip: string): Promise<void> {
    await this.call("one.vn.hold", id, toTemplateXml({ LEASES: { IP: ip } }));
  }
  async vnRelease(id: number, ip: string): Promise<void> {
    await this.call("one.vn.release", id, toTemplateXml({ LEASES: { IP: ip } }));
  }
  async vnDelete(id: number): Promise<void> {
    await this.call("one.vn.delete", id);
  }
  async findVnet(name: string): Promise<OneVnet | undefined> {
    return (await this.vnPool()).find((v) => v.name === name);
  }

  // --- images
  imagePool(): Promise<OneImage[]> {
    return this.#document("one.imagepool.info", parseImagePool, ALL, -1, -1);
  }
  imageInfo(id: number): Promise<OneImage> {
    return this.#document("one.image.info", parseImage, id);
  }
  imageAllocate(templateXml: string, datastoreId: number, skipCapacityCheck = false): Promise<number> {
    return this.#id("one.image.allocate", templateXml, datastoreId, skipCapacityCheck);
  }
  async imageDelete(id: number, force = false): Promise<void> {
    await this.call("one.image.delete", id, force);
  }
  async findImage(name: string): Promise<OneImage | undefined> {
    return (await this.imagePool()).find((i) => i.name === name);
  }

  // --- VM templates
  templatePool(): Promise<OneTemplate[]> {
    return this.#document("one.templatepool.info", parseTemplatePool, ALL, -1, -1);
  }
  templateInfo(id: number): Promise<OneTemplate> {
    return this.#document("one.template.info", parseTemplate, id, false, false);
  }
  templateAllocate(templateXml: string): Promise<number> {
    return this.#id("one.template.allocate", templateXml);
  }
  /** Returns the new VM's ID; `extraXml` is merged into the template (e.g. a fixed NIC IP). */
  templateInstantiate(
    id: number,
    vmName: string,
    extraXml = "",
    onHold = false,
    persistent = false,
  ): Promise<number> {
    return this.#id("one.template.instantiate", id, vmName, onHold, extraXml, persistent);
  }
  async templateDelete(id: number, withImages = false): Promise<void> {
    await this.call("one.template.delete", id, withImages);
  }
  async findTemplate(name: string): Promise<OneTemplate | undefined> {
    const found = (await this.templatePool()).find((t) => t.name === name);
    return found;
  }

  // --- VMs
  /** Every VM the user may see, except DONE ones. */
  vmPool(): Promise<OneVm[]> {
    return this.#document("one.vmpool.info", parseVmPool, ALL, -1, -1, -1);
  }
  vmInfo(id: number): Promise<OneVm> {
    return this.#document("one.vm.info", parseVm, id, false);
  }
  async vmAction(action: VmAction, id: number): Promise<void> {
    await this.call("one.vm.action", action, id);
  }
  async findVm(name: string): Promise<OneVm | undefined> {
    return (await this.vmPool()).find((v) => v.name === name);
  }
  /** one.vm.recover: 0 failure, 1 success, 2 retry, 3 delete (any state), 4 delete-recreate, 5 delete-db. */
  async vmRecover(id: number, operation: 0 | 1 | 2 | 3 | 4 | 5): Promise<void> {
    await this.call("one.vm.recover", id, operation);
  }

  // --- marketplace
  marketAppPool(): Promise<OneMarketApp[]> {
    return this.#document("one.marketapppool.info", parseMarketAppPool, ALL, -1, -1);
  }
  marketAppInfo(id: number): Promise<OneMarketApp> {
    return this.#document("one.marketapp.info", parseMarketApp, id, false);
  }
}
