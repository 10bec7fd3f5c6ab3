// Runs the built labgate CLI (dist) with a small file-based provider registered as "local", so the
// confirmation gate can be driven through a real pseudo-terminal without HAProxy or app processes.
// Env: LAB_DRIVER_HOLD=<step id> makes that step wait until Ctrl-C (abort signal).
import { mkdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { registerProvider } from "@labgate/lxd-lab";

const { main } = await import(new URL("../../../dist/main.js", import.meta.url).href);

const exists = (p) =>
  stat(p).then(
    () => true,
    () => false,
  );
const hold = process.env.LAB_DRIVER_HOLD;

/** A LabStep (description + actions), as the providers build them. */
function fileStep(id, title) {
  const path = (ctx) => join(ctx.stateDir, `${id}.txt`);
  return {
    description: {
      id,
      title,
      why: `Creates ${id}.txt in the lab's state directory so the test can see that the step ran.`,
      calls: [{ display: `echo ${id} > <state>/${id}.txt`, kind: "command" }],
      diagnostics: [`ls -l <state>/${id}.txt`],
    },
    actions: {
      async check(ctx) {
        return (await exists(path(ctx))) ? { done: true, detail: `${id}.txt exists` } : { done: false };
      },
      async apply(ctx) {
        await ctx.record({ kind: "file", id: path(ctx), stepId: id });
        if (hold === id) {
          process.stderr.write(`HOLDING ${id}\n`);
          // Like a real wait (a process, a socket), the timer keeps the event loop alive until Ctrl-C.
          const timer = setInterval(() => {}, 1000);
          await new Promise((_, reject) => {
            const stop = () => {
              clearInterval(timer);
              reject(new Error("aborted"));
            };
            ctx.signal.addEventListener("abort", stop, { once: true });
          });
        }
        await writeFile(path(ctx), id);
      },
      async verify(ctx) {
        if ((await readFile(path(ctx), "utf8")) !== id) throw new Error(`${id}.txt has the wrong content`);
      },
      async undo(ctx) {
        await rm(path(ctx), { force: true });
        await ctx.forget("file", path(ctx));
      },
    },
  };
}

registerProvider({
  name: "local",
  plan: () => [
    fileStep("alpha", "Write alpha"),
    fileStep("beta", "Write beta"),
    fileStep("gamma", "Write gamma"),
  ],
});
await mkdir(process.cwd(), { recursive: true });
process.exitCode = await main(process.argv);
