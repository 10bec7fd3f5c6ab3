import type {
  DescribeInstancesCommandOutput,
  EC2Client,
  EC2ClientConfig,
  RunInstancesCommandInput,
} from "@aws-sdk/client-ec2";
import type { Finding } from "../deploy-rules/findings.js";
import type { DeploySpec } from "../deploy-rules/spec.js";
import { PlatformApiError } from "../errors.js";
import { redact } from "../util/redact.js";
import { cloudInitUserData } from "./cloud-init.js";
import { missingOption, OptionReader } from "./options.js";
import type {
  CallOptions,
  DeploymentPlan,
  NodeInfo,
  NodeRef,
  NodeState,
  PlatformAdapter,
  PlatformCapabilities,
  ResolvedSpec,
  WaitOptions,
} from "./types.js";
import { waitForRunning } from "./wait.js";

export interface AwsAdapterOptions {
  /** platform_options.aws: region, subnet_id, instance_type, security_group_ids, key_name, root_device, endpoint. */
  spec?: DeploySpec;
  overrides?: Record<string, unknown>;
  /** Extra EC2Client config (tests: endpoint, credentials). Credentials otherwise come from the SDK's default chain. */
  clientConfig?: EC2ClientConfig;
  env?: NodeJS.ProcessEnv;
  pollIntervalMs?: number;
}

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
    const input = this.runInput(spec);
    const shown = {
      ...input,
      ...(input.UserData ? { UserData: `<base64 cloud-config, ${input.UserData.length} chars>` } : {}),
    };
    return {
      platform: "aws",
      name: spec.name,
      network: spec.resolvedNetwork,
      calls: [
        {
          kind: "sdk",
          action: "RunInstances",
          target: `ec2.${this.region(spec)}`,
          why: "Launch one instance from the AMI into the subnet.",
          params: shown,
        },
        {
          kind: "sdk",
          action: "DescribeInstances",
          target: "InstanceIds=[<new id>]",
          why: "Poll until State.Name is running.",
        },
      ],
    };
  }

  async create(spec: ResolvedSpec, call: CallOptions = {}): Promise<NodeRef> {
    call.onCall?.("ec2:RunInstances");
    const out = await this.send(async () => {
      const { client, sdk } = await this.ec2(spec);
      return client.send(new sdk.RunInstancesCommand(this.runInput(spec)), sig(call));
    }, "RunInstances");
    const id = out.Instances?.[0]?.InstanceId;
    if (!id) throw new PlatformApiError("aws", "PLATFORM_API_ERROR", "RunInstances returned no instance id.");
    return { platform: "aws", id, name: spec.name, location: { region: this.region(spec) } };
  }

  async get(ref: NodeRef, call: CallOptions = {}): Promise<NodeInfo | undefined> {
    call.onCall?.("ec2:DescribeInstances");
    let out: DescribeInstancesCommandOutput;
    try {
      const { client, sdk } = await this.ec2();
      out = await client.send(new sdk.DescribeInstancesCommand({ InstanceIds: [ref.id] }), sig(call));
    } catch (error) {
      if ((error as { name?: string }).name === "InvalidInstanceID.NotFound") return undefined;
      throw awsError(error, "DescribeInstances");
    }
    const instance = out.Reservations?.[0]?.Instances?.[0];
    if (!instance) return undefined;
    const raw = instance.State?.Name ?? "unknown";
    const addresses = [instance.PrivateIpAddress, instance.PublicIpAddress].filter((a): a is string => !!a);
    return { ref, state: ec2State(raw), rawState: raw, addresses };
  }

  async start(ref: NodeRef, call: CallOptions = {}): Promise<void> {
    call.onCall?.("ec2:StartInstances");
    await this.send(async () => {
      const { client, sdk } = await this.ec2();
      return client.send(new sdk.StartInstancesCommand({ InstanceIds: [ref.id] }), sig(call));
    }, "StartInstances");
  }

  async stop(ref: NodeRef, call: CallOptions = {}): Promise<void> {
    call.onCall?.("ec2:StopInstances");
    await this.send(async () => {
      const { client, sdk } = await this.ec2();
      return client.send(new sdk.StopInstancesCommand({ InstanceIds: [ref.id] }), sig(call));
    }, "StopInstances");
  }

  async destroy(ref: NodeRef, call: CallOptions = {}): Promise<void> {
    const info = await this.get(ref, call);
    if (!info || info.state === "terminated") return;
    call.onCall?.("ec2:TerminateInstances");
    await this.send(async () => {
      const { client, sdk } = await this.ec2();
      return client.send(new sdk.TerminateInstancesCommand({ InstanceIds: [ref.id] }), sig(call));
    }, "TerminateInstances");
  }

  waitUntilRunning(ref: NodeRef, options: WaitOptions = {}): Promise<NodeInfo> {
    return waitForRunning(() => this.get(ref, options.signal ? { signal: options.signal } : {}), ref, {
      intervalMs: this.options.pollIntervalMs ?? 5000,
      ...options,
    });
  }

  runInput(spec: ResolvedSpec): RunInstancesCommandInput {
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
          ],
        },
      ],
      UserData: Buffer.from(cloudInitUserData(spec)).toString("base64"),
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
          DeviceName: o.string("root_device") ?? "/dev/sda1",
          Ebs: { VolumeSize: spec.disk_gb, VolumeType: "gp3", DeleteOnTermination: true },
        },
      ];
    }
    return input;
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

// The SDK costs seconds of CPU to load: only a command that talks to EC2 pays for it.
function loadEc2Sdk(): Promise<Ec2Sdk> {
  ec2Sdk ??= import("@aws-sdk/client-ec2");
  return ec2Sdk;
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

function awsError(error: unknown, what: string): PlatformApiError {
  const e = error as { name?: string; message?: string; $metadata?: { httpStatusCode?: number } };
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
        ? "Check the credentials the SDK found (AWS_PROFILE, AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, SSO) and the IAM policy (ec2:RunInstances, ec2:DescribeInstances ...)."
        : "Fix what EC2 names above; `labgate deploy plan` shows the request.",
    },
  );
}
