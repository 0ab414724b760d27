/**
 * Entry point of `npm run pki -- <command> [options]` (see `pki/README.md` and `--help`).
 * Prints one-line errors without a stack trace; the exit code is {@link runCli}'s.
 */
import { runCli } from "./pki-command.ts";

process.exitCode = runCli(process.argv.slice(2), {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
  env: process.env,
});
