/** `npm run preflight -- --env <name> [--plan <dir>] [--json]` (see `--help`). */
import { preflightCommand } from "./preflight-command.ts";

const result = preflightCommand(process.argv.slice(2));
process.stdout.write(result.stdout);
process.stderr.write(result.stderr);
process.exitCode = result.code;
