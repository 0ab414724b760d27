/** The error of an environment file that cannot be used (a leaf: commands test for it without loading the validator). */

/** Invalid configuration: `problems` holds one formatted line per problem. */
export class ConfigError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(problems.join("\n"));
    this.name = "ConfigError";
  }
}
