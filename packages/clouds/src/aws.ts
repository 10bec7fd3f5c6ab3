import type {
  DescribeImagesCommandOutput,
  DescribeInstancesCommandOutput,
  EC2Client,
  EC2ClientConfig,
  RunInstancesCommandInput,
} from "@aws-sdk/client-ec2";
import {
  type CallOptions,
  cloudInitUserData,
  type DeploymentPlan,
  type DeploySpec,
  type Finding,
  INTENT_KEY,
  type NodeInfo,
  type NodeRef,
  type NodeState,
  type PlatformAdapter,
  PlatformApiError,
  type PlatformCapabilities,
  pollUntil,
  type ResolvedSpec,
  redact,
  type AdapterWaitOptions as WaitOptions,
  waitForRunning,
} from "@labgate/core";
import {
  checkField,
  claimOf,
  invalidResponse,
  missingOption,
  nameTakenError,
  newClaim,
  OptionReader,
  shapes,
} from "@labgate/core/adapter-kit";
import { loadSdk } from "./load-sdk.js";

export interface AwsAdapterOptions {
  /** platform_options.aws: region, subnet_id, instance_type, security_group_ids, key_name, root_device, endpoint. */
  spec?: DeploySpec;
  overrides?: Record<string, unknown>;
  /** Extra EC2Client config (tests: endpoint, credentials). Credentials otherwise come from the SDK's default chain. */
  clientConfig?: EC2ClientConfig;
  env?: NodeJS.ProcessEnv;
  pollIntervalMs?: number;
  /**
   * How long after RunInstances an InvalidInstanceID.NotFound still means "not propagated yet" rather than
   * "gone" (EC2 eventual consistency; AWS advises backing off "up to a few minutes"). Default 5 minutes.
   */
  consistencyGraceMs?: number;
}

/** NodeRef.location key holding when RunInstances returned, so a later process knows the grace period too. */
const LAUNCHED_AT = "launchedAt";
const NOT_YET_VISIBLE = "not visible yet (EC2 eventual consistency after RunInstances)";
/** The tag carrying the apply's claim (also its RunInstances ClientToken). */
const INTENT_TAG = "labgate:intent";
/** Every state but terminated and shutting-down: instances that exist and keep their name. */
const LIVE_STATES = ["pending", "running", "stopping", "stopped"];

/** AWS EC2 through @aws-sdk/client-ec2: DHCP by default, PrivateIpAddress only when the spec asks for static. */
export class AwsAdapter implements PlatformAdapter {
  readonly name = "aws" as const;
  readonly capabilities: PlatformCapabilities = {
    dhcpAvailable: true,
    windowsDiskBus: "nvme",
    imageFormats: ["ami"],
    convertibleFormats: [],
    cloneFromTemplate: false,
    guestConfig: "user-data",
  };
  private client: EC2Client | undefined;
  private readonly env: NodeJS.ProcessEnv;

  constructor(private readonly options: AwsAdapterOptions = {}) {
    this.env = options.env ?? process.env;
  }

  validate(spec: DeploySpec): Finding[] {
    const o = this.reader(spec);
    const out: Finding[] = [];
    if (!o.string("region") && !this.env.AWS_REGION && !this.env.AWS_DEFAULT_REGION)
      out.push(missingOption("aws", "region", '"eu-central-1"', "AWS_REGION"));
    if (!o.string("subnet_id")) out.push(missingOption("aws", "subnet_id", '"subnet-0abc..."'));
    if (!o.string("instance_type"))
      out.push(missingOption("aws", "instance_type", `"${suggestInstanceType(spec)}"`));
    if (spec.image?.ref !== undefined && !/^ami-[0-9a-f]{8,17}$/.test(spec.image.ref)) {
      out.push({
        code: "AWS_AMI_INVALID",
        severity: "error",
        field: "image.ref",
        message: `image.ref must be an AMI id (ami-...), got "${spec.image.ref}".`,
        fix: "Look it up with aws ec2 describe-images.",
      });
    }
    if (spec.image?.ref === undefined) {
      out.push({
        code: "AWS_AMI_REQUIRED",
        severity: "error",
        field: "image.ref",
        message: "EC2 boots from an AMI; image.ref is missing.",
        fix: 'Set "image": {"ref": "ami-..."}.',
      });
    }
    return out;
  }

  plan(spec: ResolvedSpec): DeploymentPlan {
    const lookup = this.needsRootDeviceLookup(spec);
    const input = this.runInput(
      spec,
      lookup ? `<RootDeviceName of ${spec.image?.ref}>` : undefined,
      "<random per apply>",
    );
    const shown = {
      ...input,
      ...(input.UserData ? { UserData: `<base64 cloud-config, ${input.UserData.length} chars>` } : {}),
    };
    return {
      platform: "aws",
      name: spec.name,
      network: spec.resolvedNetwork,
      calls: [
        ...(lookup
          ? [
              {
                kind: "sdk" as const,
                action: "DescribeImages",
                target: `ImageIds=[${spec.image?.ref}]`,
                why: "Read the AMI's RootDeviceName: disk_gb must resize the root volume under that name (/dev/xvda, /dev/sda1 ...), or EC2 attaches a second, empty volume.",
              },
            ]
          : []),
        {
          kind: "sdk",
          action: "DescribeInstances",
          target: `Filters=[tag:Name=${spec.name}, instance-state-name=${LIVE_STATES.join("|")}]`,
          why: "An instance of this name that this apply did not make is refused, never adopted or replaced.",
        },
        {
          kind: "sdk",
          action: "RunInstances",
          target: `ec2.${this.region(spec)}`,
          why: "Launch one instance from the AMI into the subnet; the ClientToken (also tag labgate:intent, recorded before the call) makes a retried launch return the same instance and lets an interrupted apply find it.",
          params: shown,
        },
        {
          kind: "sdk",
          action: "DescribeInstances",
          target: "InstanceIds=[<new id>]",
          why: "Poll until State.Name is running; InvalidInstanceID.NotFound right after the launch is EC2's eventual consistency, polled through, not taken as gone.",
        },
      ],
    };
  }

  async create(spec: ResolvedSpec, call: CallOptions = {}): Promise<NodeRef> {
    const rootDevice = this.needsRootDeviceLookup(spec) ? await this.rootDeviceName(spec, call) : undefined;
    const taken = await this.findByName(spec.name, call);
    if (taken.length > 0) throw nameTakenError("aws", spec.name, taken);
    const claim = newClaim();
    const location = { region: this.region(spec), [INTENT_KEY]: claim };
    // EC2 names the instance only in its answer: the claim it will carry is on disk before the call.
    // Its launch time too: a later lookup knows how long the instance may still be unlisted.
    await call.beforeMutation?.({
      platform: "aws",
      id: "",
      name: spec.name,
      location: { ...location, [LAUNCHED_AT]: new Date().toISOString() },
    });
    call.onCall?.("ec2:RunInstances");
    const out = await this.send(async () => {
      const { client, sdk } = await this.ec2(spec);
      return client.send(new sdk.RunInstancesCommand(this.runInput(spec, rootDevice, claim)), sig(call));
    }, "RunInstances").catch(async (error: PlatformApiError) => {
      // EC2 refused the one and only attempt: nothing was launched, so the claim is withdrawn (a lookup for
      // it would otherwise wait out the consistency grace for an instance that never existed).
      if (refusedOnFirstAttempt(error.cause))
        await call.beforeMutation?.({
          platform: "aws",
          id: "",
          name: spec.name,
          location: { region: location.region },
        });
      throw error;
    });
    const id = checkField(
      "aws",
      "RunInstances",
      "Instances[0].InstanceId",
      out.Instances?.[0]?.InstanceId,
      INSTANCE_ID,
    );
    return {
      platform: "aws",
      id,
      name: spec.name,
      location: { ...location, [LAUNCHED_AT]: new Date().toISOString() },
    };
  }

  /**
   * DescribeInstances filtered by tag:Name, terminated and shutting-down left out (they keep their tags for
   * about an hour). Each ref carries the labgate:intent tag, if any, as its claim.
   */
  async findByName(name: string, call: CallOptions = {}): Promise<NodeRef[]> {
    call.onCall?.(`ec2:DescribeInstances tag:Name=${name}`);
    const refs: NodeRef[] = [];
    let next: string | undefined;
    do {
      const out: DescribeInstancesCommandOutput = await this.send(async () => {
        const { client, sdk } = await this.ec2();
        return client.send(
          new sdk.DescribeInstancesCommand({
            Filters: [
              { Name: "tag:Name", Values: [name] },
              { Name: "instance-state-name", Values: LIVE_STATES },
            ],
            ...(next ? { NextToken: next } : {}),
          }),
          sig(call),
        );
      }, "DescribeInstances");
      for (const instance of (out.Reservations ?? []).flatMap((r) => r.Instances ?? [])) {
        // The id found here is what a resumed apply later stops or terminates: never one of another shape.
        const id = checkField(
          "aws",
          `DescribeInstances tag:Name=${name}`,
          "InstanceId",
          instance.InstanceId,
          INSTANCE_ID,
        );
        const claim = instance.Tags?.find((t) => t.Key === INTENT_TAG)?.Value;
        refs.push({
          platform: "aws",
          id,
          name,
          location: { region: this.region(), ...(claim ? { [INTENT_KEY]: claim } : {}) },
        });
      }
      next = out.NextToken;
    } while (next);
    return refs;
  }

  /**
   * The instance that carries the interrupted apply's claim; one of the same name without it is someone
   * else's. A launch younger than the consistency grace may not be listed yet (EC2 eventual consistency):
   * the lookup is repeated until it shows or the grace has passed, so a re-run does not launch a twin.
   */
  async findLeftovers(intent: NodeRef, call: CallOptions = {}): Promise<NodeRef[]> {
    const claim = claimOf(intent);
    const claimed = async () =>
      (await this.findByName(intent.name, call)).filter((r) =>
        claim ? claimOf(r) === claim : r.id === intent.id,
      );
    return pollUntil(
      `EC2 instance ${intent.name} of the interrupted apply (claim ${claim ?? intent.id})`,
      claimed,
      (found) => found.length > 0 || !this.withinGrace(intent),
      this.graceWait(intent, call),
    );
  }

  async get(ref: NodeRef, call: CallOptions = {}): Promise<NodeInfo | undefined> {
    call.onCall?.("ec2:DescribeInstances");
    let out: DescribeInstancesCommandOutput;
    try {
      const { client, sdk } = await this.ec2();
      out = await client.send(new sdk.DescribeInstancesCommand({ InstanceIds: [ref.id] }), sig(call));
    } catch (error) {
      if (!isInstanceNotFound(error)) throw awsError(error, "DescribeInstances");
      // Right after RunInstances the id may not have propagated: the instance exists and is pending.
      return this.withinGrace(ref)
        ? { ref, state: "pending", rawState: NOT_YET_VISIBLE, addresses: [] }
        : undefined;
    }
    const instance = out.Reservations?.[0]?.Instances?.[0];
    if (!instance) return undefined;
    const what = `DescribeInstances ${ref.id}`;
    const raw = checkField("aws", what, "State.Name", instance.State?.Name, EC2_STATE);
    const addresses = [
      checkField("aws", what, "PrivateIpAddress", instance.PrivateIpAddress, shapes.optional(shapes.ipv4)),
      checkField("aws", what, "PublicIpAddress", instance.PublicIpAddress, shapes.optional(shapes.ipv4)),
    ].filter((a): a is string => !!a);
    return { ref, state: ec2State(raw), rawState: raw, addresses };
  }

  async start(ref: NodeRef, call: CallOptions = {}): Promise<void> {
    await call.beforeMutation?.(ref);
    call.onCall?.("ec2:StartInstances");
    await this.sendOnInstance(ref, call, "StartInstances", (client, sdk, options) =>
      client.send(new sdk.StartInstancesCommand({ InstanceIds: [ref.id] }), options),
    );
  }

  async stop(ref: NodeRef, call: CallOptions = {}): Promise<void> {
    await call.beforeMutation?.(ref);
    call.onCall?.("ec2:StopInstances");
    await this.sendOnInstance(ref, call, "StopInstances", (client, sdk, options) =>
      client.send(new sdk.StopInstancesCommand({ InstanceIds: [ref.id] }), options),
    );
  }

  async destroy(ref: NodeRef, call: CallOptions = {}): Promise<void> {
    // AWS: NotFound from TerminateInstances does not mean terminated; confirm with DescribeInstances first,
    // backing off while a young instance is not visible yet.
    const info = await this.untilVisible(ref, call);
    if (!info || info.state === "terminated") return;
    call.onCall?.("ec2:TerminateInstances");
    await this.sendOnInstance(ref, call, "TerminateInstances", (client, sdk, options) =>
      client.send(new sdk.TerminateInstancesCommand({ InstanceIds: [ref.id] }), options),
    );
  }

  waitUntilRunning(ref: NodeRef, options: WaitOptions = {}): Promise<NodeInfo> {
    return waitForRunning(() => this.get(ref, options.signal ? { signal: options.signal } : {}), ref, {
      intervalMs: this.options.pollIntervalMs ?? 5000,
      ...options,
    });
  }

  /**
   * The RunInstances request. `rootDevice` is the AMI's RootDeviceName (DescribeImages): a mapping under any
   * other name adds a second volume and leaves the root at the AMI's size.
   */
  runInput(spec: ResolvedSpec, rootDevice?: string, claim?: string): RunInstancesCommandInput {
    const o = this.reader(spec);
    const input: RunInstancesCommandInput = {
      ImageId: spec.image?.ref,
      InstanceType: (o.string("instance_type") ??
        suggestInstanceType(spec)) as RunInstancesCommandInput["InstanceType"],
      MinCount: 1,
      MaxCount: 1,
      SubnetId: spec.resolvedNetwork.attach ?? o.string("subnet_id"),
      TagSpecifications: [
        {
          ResourceType: "instance",
          Tags: [
            { Key: "Name", Value: spec.name },
            { Key: "labgate:deploy", Value: spec.name },
            ...(claim ? [{ Key: INTENT_TAG, Value: claim }] : []),
          ],
        },
      ],
      UserData: Buffer.from(cloudInitUserData(spec)).toString("base64"),
      // Idempotency (ec2/latest/devguide/ec2-api-idempotency.html): the SDK's retries of a launch whose
      // answer was lost return the instance the first attempt made instead of a second one.
      ...(claim ? { ClientToken: claim } : {}),
    };
    if (spec.resolvedNetwork.mode === "fixed") input.PrivateIpAddress = spec.resolvedNetwork.ip;
    const groups = o.values.security_group_ids;
    if (Array.isArray(groups) && groups.every((g) => typeof g === "string"))
      input.SecurityGroupIds = groups as string[];
    const key = o.string("key_name");
    if (key) input.KeyName = key;
    if (spec.disk_gb !== undefined) {
      input.BlockDeviceMappings = [
        {
          DeviceName: o.string("root_device") ?? rootDevice ?? "<RootDeviceName from DescribeImages>",
          Ebs: { VolumeSize: spec.disk_gb, VolumeType: "gp3", DeleteOnTermination: true },
        },
      ];
    }
    return input;
  }

  private needsRootDeviceLookup(spec: DeploySpec): boolean {
    return spec.disk_gb !== undefined && this.reader(spec).string("root_device") === undefined;
  }

  private async rootDeviceName(spec: ResolvedSpec, call: CallOptions): Promise<string> {
    const ami = spec.image?.ref ?? "";
    call.onCall?.(`ec2:DescribeImages ${ami}`);
    const out: DescribeImagesCommandOutput = await this.send(async () => {
      const { client, sdk } = await this.ec2(spec);
      return client.send(new sdk.DescribeImagesCommand({ ImageIds: [ami] }), sig(call));
    }, "DescribeImages");
    const name = out.Images?.find((i) => i.ImageId === ami)?.RootDeviceName;
    if (!name?.startsWith("/dev/") || /\s/.test(name))
      throw new PlatformApiError(
        "aws",
        "PLATFORM_API_ERROR",
        `DescribeImages returned no usable RootDeviceName for ${ami} (got ${JSON.stringify(name ?? null)}).`,
        {
          hint: 'Set platform_options.aws.root_device to the AMI\'s root device (aws ec2 describe-images --image-ids <ami> --query "Images[0].RootDeviceName").',
        },
      );
    return name;
  }

  /**
   * A call naming the instance, repeated while a young instance's id has not propagated (the same
   * InvalidInstanceID.NotFound that DescribeInstances gives); past the grace period the error stands.
   */
  private async sendOnInstance(
    ref: NodeRef,
    call: CallOptions,
    what: string,
    send: (client: EC2Client, sdk: Ec2Sdk, options: { abortSignal?: AbortSignal }) => Promise<unknown>,
  ): Promise<void> {
    await pollUntil(
      `EC2 ${what} on ${ref.name} (${ref.id})`,
      async () => {
        try {
          const { client, sdk } = await this.ec2();
          await send(client, sdk, sig(call));
          return true;
        } catch (error) {
          if (isInstanceNotFound(error) && this.withinGrace(ref)) return false;
          throw awsError(error, what);
        }
      },
      (done) => done,
      this.graceWait(ref, call),
    );
  }

  /** DescribeInstances, backing off while a young instance is not visible yet; undefined once it is really gone. */
  private untilVisible(ref: NodeRef, call: CallOptions): Promise<NodeInfo | undefined> {
    return pollUntil(
      `Waiting for EC2 to show instance ${ref.name} (${ref.id})`,
      () => this.get(ref, call),
      (info) => info?.rawState !== NOT_YET_VISIBLE,
      this.graceWait(ref, call),
    );
  }

  private withinGrace(ref: NodeRef): boolean {
    const launched = Date.parse(ref.location?.[LAUNCHED_AT] ?? "");
    return Number.isFinite(launched) && Date.now() - launched < this.graceMs();
  }

  /** Poll until the grace period has passed (then get() answers undefined and the poll ends). */
  private graceWait(ref: NodeRef, call: CallOptions) {
    const launched = Date.parse(ref.location?.[LAUNCHED_AT] ?? "");
    const left = Number.isFinite(launched) ? launched + this.graceMs() - Date.now() : 0;
    return {
      intervalMs: this.options.pollIntervalMs ?? 2000,
      timeoutMs: Math.max(0, left) + 5_000,
      ...(call.signal ? { signal: call.signal } : {}),
    };
  }

  private graceMs(): number {
    return this.options.consistencyGraceMs ?? 300_000;
  }

  private async ec2(spec?: DeploySpec): Promise<{ client: EC2Client; sdk: Ec2Sdk }> {
    const sdk = await loadEc2Sdk();
    if (!this.client) {
      const endpoint = this.reader(spec).string("endpoint");
      this.client = new sdk.EC2Client({
        region: this.region(spec),
        ...(endpoint ? { endpoint } : {}),
        ...this.options.clientConfig,
      });
      refuseNonXml(this.client);
    }
    return { client: this.client, sdk };
  }

  private region(spec?: DeploySpec): string {
    return (
      this.reader(spec).string("region") ?? this.env.AWS_REGION ?? this.env.AWS_DEFAULT_REGION ?? "us-east-1"
    );
  }

  private reader(spec: DeploySpec | undefined): OptionReader {
    return new OptionReader("aws", spec ?? this.options.spec, this.options.overrides ?? {});
  }

  private async send<T>(run: () => Promise<T>, what: string): Promise<T> {
    try {
      return await run();
    } catch (error) {
      throw awsError(error, what);
    }
  }
}

type Ec2Sdk = typeof import("@aws-sdk/client-ec2");
let ec2Sdk: Promise<Ec2Sdk> | undefined;

// The SDK costs seconds of CPU to load and is an optional peer: only a command that talks to EC2 needs it.
function loadEc2Sdk(): Promise<Ec2Sdk> {
  ec2Sdk ??= loadSdk<Ec2Sdk>("aws", "@aws-sdk/client-ec2");
  ec2Sdk.catch(() => {
    ec2Sdk = undefined;
  });
  return ec2Sdk;
}

/** EC2 instance ids (i- and 8 or 17 hex digits): every later call names the instance by it. */
const INSTANCE_ID = shapes.stringMatching("an instance id (i-...)", /^i-[0-9a-f]{8,17}$/);
/** InstanceStateName of the EC2 API reference. */
const EC2_STATE = shapes.oneOfNames(
  "an instance state name (pending, running, shutting-down, terminated, stopping, stopped)",
  ["pending", "running", "shutting-down", "terminated", "stopping", "stopped"],
);

/**
 * The EC2 Query API answers text/xml. The SDK's XML parser reads a proxy's HTML page as a document without
 * the fields asked for, so a 2xx answer of another type is refused here, with its start, before parsing.
 */
function refuseNonXml(client: EC2Client): void {
  type Next = (args: unknown) => Promise<{ response: unknown }>;
  const stack = client.middlewareStack as unknown as {
    add(mw: (next: Next, context: { commandName?: string }) => Next, options: Record<string, string>): void;
  };
  stack.add(
    (next, context) => async (args) => {
      const result = await next(args);
      const res = result.response as {
        statusCode?: number;
        headers?: Record<string, string>;
        body?: AsyncIterable<Uint8Array | string>;
      };
      const status = res.statusCode ?? 0;
      const type = res.headers?.["content-type"] ?? "";
      if (status >= 200 && status < 300 && !/xml/i.test(type)) {
        let text = "";
        try {
          for await (const chunk of res.body ?? []) {
            text += typeof chunk === "string" ? chunk : Buffer.from(chunk).toString("utf8");
            if (text.length > 2000) break;
          }
        } catch {
          // The start of the body is a courtesy; the content type already says what is wrong.
        }
        throw invalidResponse(
          "aws",
          String(context.commandName ?? "an EC2 call").replace(/Command$/, ""),
          text.trim() === "" ? "an empty body" : `a non-XML body (${type || "no content type"})`,
          { status, headers: { "content-type": type }, text },
          "https://ec2.eu-central-1.amazonaws.com",
        );
      }
      return result;
    },
    { step: "deserialize", name: "labgateRefuseNonXml", priority: "low" },
  );
}

/** A 4xx answer to the first and only attempt: EC2 rejected the request, it did not run it. */
function refusedOnFirstAttempt(error: unknown): boolean {
  const meta = (error as { $metadata?: { httpStatusCode?: number; attempts?: number } } | undefined)
    ?.$metadata;
  const status = meta?.httpStatusCode ?? 0;
  return status >= 400 && status < 500 && meta?.attempts === 1;
}

function isInstanceNotFound(error: unknown): boolean {
  return (error as { name?: string }).name === "InvalidInstanceID.NotFound";
}

function sig(call: CallOptions): { abortSignal?: AbortSignal } {
  return call.signal ? { abortSignal: call.signal } : {};
}

/** A size-based default: t3 family up to 8 GiB, m6i beyond. */
function suggestInstanceType(spec: DeploySpec): string {
  const gib = spec.memory_mib / 1024;
  if (gib <= 2 && spec.cores <= 2) return "t3.small";
  if (gib <= 4 && spec.cores <= 2) return "t3.medium";
  if (gib <= 8 && spec.cores <= 2) return "t3.large";
  const sizes: [number, string][] = [
    [2, "large"],
    [4, "xlarge"],
    [8, "2xlarge"],
    [16, "4xlarge"],
    [32, "8xlarge"],
    [48, "12xlarge"],
    [64, "16xlarge"],
  ];
  const size = sizes.find(([vcpu]) => vcpu >= Math.max(spec.cores, gib / 4))?.[1] ?? "16xlarge";
  return `m6i.${size}`;
}

function ec2State(name: string): NodeState {
  switch (name) {
    case "pending":
      return "pending";
    case "running":
      return "running";
    case "stopping":
    case "shutting-down":
      return "stopping";
    case "stopped":
      return "stopped";
    case "terminated":
      return "terminated";
    default:
      return "unknown";
  }
}

/** Every EC2 action the adapter calls; RunInstances with TagSpecifications also needs ec2:CreateTags. */
const IAM_ACTIONS = [
  "ec2:RunInstances",
  "ec2:CreateTags",
  "ec2:DescribeImages",
  "ec2:DescribeInstances",
  "ec2:StartInstances",
  "ec2:StopInstances",
  "ec2:TerminateInstances",
];

function awsError(error: unknown, what: string): PlatformApiError {
  if (error instanceof PlatformApiError) return error;
  const e = error as { name?: string; message?: string; $metadata?: { httpStatusCode?: number } };
  // The SDK could not parse a 2xx answer: not an EC2 error but an answer that is not EC2's.
  if (/Deserialization error|XML parse error/i.test(e.message ?? "")) {
    const body = (error as { $response?: { body?: unknown } }).$response?.body;
    return Object.assign(
      invalidResponse(
        "aws",
        what,
        `the SDK could not parse it: ${redact((e.message ?? "").split("\n")[0] ?? "")}`,
        typeof body === "string"
          ? { status: e.$metadata?.httpStatusCode ?? 0, headers: {}, text: body }
          : undefined,
        "https://ec2.eu-central-1.amazonaws.com",
      ),
      { cause: error },
    );
  }
  const name = e.name ?? "Error";
  const status = e.$metadata?.httpStatusCode;
  const auth =
    /AuthFailure|UnauthorizedOperation|InvalidClientTokenId|SignatureDoesNotMatch|CredentialsProviderError/.test(
      name,
    );
  const notFound = /NotFound/.test(name);
  return new PlatformApiError(
    "aws",
    auth ? "PLATFORM_AUTH_FAILED" : notFound ? "PLATFORM_NOT_FOUND" : "PLATFORM_API_ERROR",
    `EC2 ${what} failed: ${name}: ${redact(e.message ?? String(error))}`,
    {
      cause: error,
      ...(status ? { status } : {}),
      hint: auth
        ? `Check the credentials the SDK found (AWS_PROFILE, AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, SSO) and that the IAM policy allows ${IAM_ACTIONS.join(", ")} (ec2:CreateTags because instances are tagged at launch).`
        : "Fix what EC2 names above; `labgate deploy plan` shows the request.",
    },
  );
}
