/** `npm run --silent stack-order -- [--plan <dir>] [--exclude <stack>]... [--deps]` (see `--help`). */
import { stackOrderCommand } from "./stack-order-command.ts";

const result = stackOrderCommand(process.argv.slice(2));
process.stdout.write(result.stdout);
process.stderr.write(result.stderr);
process.exitCode = result.code;
