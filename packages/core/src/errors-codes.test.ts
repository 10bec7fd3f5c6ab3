import { describe, expect, it } from "vitest";
import * as errors from "./errors.js";
import {
  type CodeTable,
  codeTable,
  IpPoolConfigError,
  IpPoolRequestError,
  LabgateError,
  type LabgateErrorClass,
  OpenNebulaError,
  PlatformApiError,
  PlatformSdkMissingError,
  PreconditionError,
  StateError,
} from "./errors.js";
import { ExitCode, type ExitCodeValue } from "./exit-codes.js";
import * as lxdErrors from "./platforms/lxd/lxd-errors.js";
import { LxdUnreachableError } from "./platforms/lxd/lxd-errors.js";
import {
  codeTableProblems,
  constructionProblems,
  type ErrorFactory,
  errorClassesIn,
} from "./test-support/error-codes.js";

const classes = errorClassesIn(errors, lxdErrors);
const factories = new Map<LabgateErrorClass, ErrorFactory>([
  [PlatformApiError, (code) => new PlatformApiError("proxmox", code as errors.PlatformApiCode, "failed")],
  [PlatformSdkMissingError, () => new PlatformSdkMissingError("aws", ["@aws-sdk/client-ec2"], undefined)],
]);

describe("core error codes", () => {
  it("finds every class of the errors modules", () => {
    const names = classes.map((c) => c.name);
    expect(names).toEqual(
      expect.arrayContaining(["LabgateError", "StateError", "OpenNebulaError", "LxdTimeoutError"]),
    );
    expect(names.length).toBeGreaterThanOrEqual(25);
  });

  it("each class owns its codes: declared once in the package, each with one ExitCode", () => {
    expect(codeTableProblems(classes)).toEqual([]);
  });

  it("every class, built with each of its codes, exits with the code's exit code", () => {
    expect(constructionProblems(classes, factories)).toEqual([]);
  });

  it("a re-raised code keeps its owner's exit code", () => {
    expect(new IpPoolConfigError("INVALID_ADDRESS", "pools.json: bad").exitCode).toBe(ExitCode.INVALID_INPUT);
    expect(new IpPoolRequestError("NETWORK_TOO_SMALL", "/32").exitCode).toBe(ExitCode.INVALID_INPUT);
    expect(new LxdUnreachableError("no socket", ["/x"]).exitCode).toBe(
      PreconditionError.codes.LXD_UNREACHABLE,
    );
  });

  it("a code's exit code is its table's, whatever a throw site passes", () => {
    const error = new OpenNebulaError("ONE_TIMEOUT", "late", { exitCode: ExitCode.EXTERNAL });
    expect(error.exitCode).toBe(ExitCode.TIMEOUT);
    expect(new OpenNebulaError("ONE_SESSION_MISSING", "no auth").exitCode).toBe(ExitCode.INVALID_INPUT);
    expect(new LabgateError("INTERRUPTED", "stopped", { exitCode: ExitCode.STATE }).exitCode).toBe(
      ExitCode.INTERRUPTED,
    );
  });

  it("a subclass without a table entry for a code falls back to the exit code it passes", () => {
    class Elsewhere extends LabgateError<"ELSEWHERE"> {
      constructor() {
        super("ELSEWHERE", "m", { exitCode: ExitCode.EXHAUSTED });
      }
    }
    expect(new Elsewhere().exitCode).toBe(ExitCode.EXHAUSTED);
  });

  it("a code a class does not declare does not compile", () => {
    // Each line is a type error (tsc -p tsconfig.test.json fails on an unused @ts-expect-error); at run time
    // the constructor still builds the error, with its class's exit code.
    // @ts-expect-error DEPLOY_EXISTS is StateError's, not PreconditionError's
    const wrongClass = new PreconditionError("DEPLOY_EXISTS", "taken");
    // @ts-expect-error a free-form string is no code
    const freeForm = new StateError("SOMETHING_BROKE", "broken");
    expect([wrongClass.exitCode, freeForm.exitCode]).toEqual([ExitCode.PRECONDITION, ExitCode.STATE]);
  });
});

describe("the code-table checks catch", () => {
  class Alpha extends LabgateError<"SHARED" | "ALPHA"> {
    static override readonly codes: CodeTable = { SHARED: ExitCode.EXTERNAL, ALPHA: ExitCode.STATE };
  }
  class Beta extends LabgateError<"SHARED"> {
    static override readonly codes: CodeTable = codeTable(["SHARED"], ExitCode.EXTERNAL);
  }
  class AlphaKind extends Alpha {
    static override readonly codes: CodeTable = codeTable(["ALPHA"], ExitCode.PRECONDITION);
  }
  class NoTable extends Alpha {}
  class Odd extends LabgateError<"ODD"> {
    static override readonly codes: CodeTable = { ODD: 42 as unknown as ExitCodeValue };
  }
  class Overridden extends LabgateError<"OVERRIDDEN"> {
    static override readonly codes: CodeTable = codeTable(["OVERRIDDEN"], ExitCode.STATE);
    static override readonly exitCodeFromCause = true;
    constructor(code: "OVERRIDDEN", message: string) {
      super(code, message, { exitCode: ExitCode.EXTERNAL });
    }
  }

  it("a code in two unrelated classes, a subclass changing a code's exit code, a class without a table, a bad exit code", () => {
    const problems = codeTableProblems([
      Alpha,
      Beta,
      AlphaKind,
      NoTable,
      Odd,
    ] as unknown as LabgateErrorClass[]);
    expect(problems).toEqual([
      "SHARED is declared by both Alpha and Beta, which are not one kind",
      "ALPHA is exit 3 in Alpha but exit 4 in AlphaKind",
      "NoTable declares no codes of its own",
      "Odd: ODD maps to 42, which is not an ExitCode",
    ]);
  });

  it("a constructor that ends with another exit code than its table", () => {
    expect(constructionProblems([Overridden] as unknown as LabgateErrorClass[])).toEqual([
      "Overridden: OVERRIDDEN exits 5, its table says 3",
    ]);
  });
});
