import type {
  DeploySpec,
  IpPool,
  NodeInfo,
  NodeRef,
  PlatformAdapter,
  PlatformName,
  ResolvedNetwork,
} from "@labgate/core";

/** What every deploy step works on: one deployment (spec on a platform), its record and its pool. */
export interface DeployContext {
  adapter: PlatformAdapter;
  spec: DeploySpec;
  platform: PlatformName;
  /** The IP pool the address comes from; undefined for DHCP, clouds, or a full address without a pool file. */
  pool: IpPool | undefined;
  /** The deploy record (`deployStatePath`): the node's id, its address and the pool owner. */
  statePath: string;
  /** How long wait-running waits for the node to run, in ms. */
  timeoutMs: number;
  /** Each call as it is made and what the steps find (people's output, stderr). */
  log: (line: string) => void;
  warn: (line: string) => void;
  signal?: AbortSignal;
  /** What the run did, for the command's result (written by the steps as they act). */
  report: DeployReport;
}

export interface DeployReport {
  ref?: NodeRef;
  info?: NodeInfo;
  network?: ResolvedNetwork;
  destroyed: NodeRef[];
  released: string[];
}

export function emptyDeployReport(): DeployReport {
  return { destroyed: [], released: [] };
}
