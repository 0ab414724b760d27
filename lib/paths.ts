/** The repository root, for the few places that read committed files (config, public certificates, PKI store). */
import { fileURLToPath } from "node:url";

/** Absolute path of the repository root (this file, like the synth bundle, sits one level below it). */
export const REPO_ROOT = fileURLToPath(new URL("..", import.meta.url));
