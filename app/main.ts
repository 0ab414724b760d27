/**
 * plue-infra entry point: `npm run synth [-- --env <name>] [--out <dir>]` (see `--help`).
 * Loads and validates `config/<env>.yaml` once, then synthesizes every stack and chart.
 */
import { synthCommand } from "./synth-command.ts";

const result = synthCommand(process.argv.slice(2));
process.stdout.write(result.stdout);
process.stderr.write(result.stderr);
process.exitCode = result.code;
