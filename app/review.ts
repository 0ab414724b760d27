/** `npm run review [-- --env <name>] [--plan <dir>] [--json]` (see `--help`). */
import { reviewCommand } from "./review-command.ts";

const result = reviewCommand(process.argv.slice(2));
process.stdout.write(result.stdout);
process.stderr.write(result.stderr);
process.exitCode = result.code;
