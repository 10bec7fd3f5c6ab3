#!/usr/bin/env node
import { ignoreClosedOutput } from "./closed-output.js";
import { main } from "./main.js";

ignoreClosedOutput(process.stdout, process.stderr);
process.exitCode = await main(process.argv);
