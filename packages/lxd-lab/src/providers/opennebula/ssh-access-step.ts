import { HostKeyError, knownHostsName } from "@labgate/core";
import type { StepCall } from "../../engine/plan-step.js";
import type { LabStep, StepContext } from "../../engine/step.js";
import { StepFailedError } from "../../errors.js";
import type { OneLabRuntime } from "./one-lab-runtime.js";

const ID = "one-ssh";
const LOGIN_TIMEOUT_MS = 30_000;

function unknownKeyOf(error: unknown): string | undefined {
  if (!(error instanceof HostKeyError) || error.code !== "HOST_KEY_UNKNOWN") return undefined;
  const presented = error.details?.presented;
  return typeof presented === "string" ? presented : undefined;
}

/** What the check saw: the fingerprint of a host key not yet known, which the gate then shows for acceptance. */
export interface SshAccessFacts {
  unknownKey?: string;
}

/**
 * SSH to the OpenNebula host with a verified host key, before any command runs there. A host seen for the
 * first time is shown with its fingerprint by the check; the engine's gate for this step is where the person
 * accepts it, and apply records exactly that key in known_hosts. A changed key fails the check: never accepted.
 */
export function sshAccessStep(rt: OneLabRuntime): LabStep<SshAccessFacts> {
  const s = rt.options.ssh!;
  const name = knownHostsName(s.host, s.port);
  const pinned = s.hostKeyFingerprints?.length ? s.hostKeyFingerprints : undefined;
  const sshLogin = `ssh ${s.port === 22 ? "" : `-p ${s.port} `}${s.user}@${s.host} true`;
  const calls: StepCall[] = [
    pinned
      ? { display: `# pinned: ${pinned.join(" or ")}`, kind: "probe" }
      : { display: `ssh-keygen -F '${name}' -f ${rt.knownHostsPath}`, kind: "command" },
    { display: sshLogin, kind: "command" },
  ];
  const login = (ctx: StepContext) =>
    rt.runner()!.run("true", [], { signal: ctx.signal, timeoutMs: LOGIN_TIMEOUT_MS });
  return {
    description: {
      id: ID,
      title: `Log in to ${s.user}@${s.host} over SSH with a verified host key`,
      why: `Host preparation, diagnostics and exposure run commands on ${s.host} over SSH, so labgate first makes sure it talks to the right machine: the host key must match ${pinned ? "the pinned fingerprint (providerOptions.ssh.hostKeyFingerprints)" : `an entry in ${rt.knownHostsPath}`}. A host seen for the first time is shown with its fingerprint above; confirming this step trusts that key and records it in known_hosts. Compare it first with \`ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub\` on the host's console (--yes trusts it unseen, like ssh's accept-new; pin the fingerprint to avoid that). A changed key is always refused.`,
      calls,
      diagnostics: [
        `ssh-keygen -F '${name}' -f ${rt.knownHostsPath}`,
        `ssh -v ${s.port === 22 ? "" : `-p ${s.port} `}${s.user}@${s.host} true`,
      ],
    },
    actions: {
      async check(ctx) {
        if (!rt.usesSsh)
          return { done: true, detail: "commands on the host go through the configured runner", facts: {} };
        try {
          await login(ctx);
          return { done: true, detail: `host key of ${name} verified, logged in as ${s.user}`, facts: {} };
        } catch (error) {
          const fingerprint = unknownKeyOf(error);
          if (!fingerprint) throw error;
          ctx.log(`  ${(error as Error).message}`);
          ctx.log(`  Confirm this step only if ${fingerprint} is the key shown on the host's console.`);
          return {
            done: false,
            detail: `${name} presents the unknown key ${fingerprint}`,
            facts: { unknownKey: fingerprint },
          };
        }
      },
      async apply(ctx, found) {
        const confirmed = found.facts.unknownKey;
        if (!confirmed) {
          throw new StepFailedError(ID, `No unknown host key of ${name} was shown to accept.`, {
            hint: "Run `labgate lab up` again: the check shows the fingerprint before asking.",
          });
        }
        let presented: string | undefined;
        const accepting = rt.sshRunner(async (_host, fingerprint) => {
          presented = fingerprint;
          return fingerprint === confirmed;
        });
        try {
          await accepting.run("true", [], { signal: ctx.signal, timeoutMs: LOGIN_TIMEOUT_MS });
        } catch (error) {
          if (presented !== undefined && presented !== confirmed) {
            throw new StepFailedError(
              ID,
              `${name} now presents ${presented}, not the ${confirmed} you confirmed. Refusing to connect: this can be a man-in-the-middle.`,
              {
                exitCode: error instanceof HostKeyError ? error.exitCode : undefined,
                hint: "Check the host's key on its console and run `labgate lab up` again.",
                cause: error,
              },
            );
          }
          throw error;
        } finally {
          await accepting.close();
        }
        await ctx.record({
          kind: "known-host",
          id: name,
          stepId: ID,
          data: { fingerprint: confirmed, knownHostsPath: rt.knownHostsPath },
        });
        ctx.log(`  recorded ${confirmed} for ${name} in ${rt.knownHostsPath}`);
      },
      async verify(ctx) {
        if (rt.usesSsh) await login(ctx);
      },
      async undo(ctx) {
        // known_hosts is the user's file and the key stays true after the lab is gone: it is left in place.
        for (const r of ctx.resources("known-host")) {
          ctx.log(`  ${r.id} stays in ${rt.knownHostsPath} (remove it with ssh-keygen -R '${r.id}')`);
          await ctx.forget("known-host", r.id);
        }
      },
    },
  };
}
