/**
 * The migration linter `npm run synth` runs before anything is built (docs/adr/0013): squawk
 * (https://squawkhq.com, the `squawk-cli` package's binary, configured by `.squawk.toml`) and
 * the project's own rules, which squawk does not know:
 *
 * - `destructive-statement`: DROP TABLE/COLUMN/SCHEMA/DATABASE, TRUNCATE, ALTER TABLE ... DROP and
 *   DELETE without WHERE are refused unless the file has a line
 *   `-- plue:allow-destructive reviewed-by=<name>` (`allow-destructive-marker` when it is malformed).
 *   Comments are ignored; DROP and TRUNCATE are also found inside strings and dollar-quoted bodies
 *   (a `DO $$ ... EXECUTE 'DROP TABLE x' $$` is destructive too): a false positive costs a marker.
 * - `transaction-control`: BEGIN/COMMIT/ROLLBACK/... at the top level (the runner wraps each file
 *   in its own transaction); `not-in-transaction`: what PostgreSQL refuses inside one (CONCURRENTLY,
 *   VACUUM, CREATE DATABASE, ...; squawk lets a file with a single such statement through);
 *   `psql-meta-command`: backslash commands (the runner feeds files to
 *   psql, where `\!` would run a shell command); `squawk-transaction-override`: a
 *   `squawk-disable-assume-in-transaction` comment, which would tell squawk a lie.
 * - `migration-file-name`, `migration-not-a-file`, `duplicate-version`: the directory holds only
 *   migration files the runner accepts (it checks the same again, cheaply, in the cluster).
 * - `unterminated`: a quote, dollar quote or block comment that is never closed.
 *
 * A pure function of the directory's files: it reads them and runs one squawk process for all of
 * them, and writes nothing.
 */
import { spawn, spawnSync } from "node:child_process";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { createRequire } from "node:module";
import { isAbsolute, join, relative, resolve, sep } from "node:path";
import { REPO_ROOT } from "../lib/paths.ts";
import { MIGRATION_FILE_PATTERN } from "./migrations.ts";

/** The squawk configuration the lint uses (also what `npx squawk db/migrations/*.sql` finds from the repository root). */
export const SQUAWK_CONFIG: string = join(REPO_ROOT, ".squawk.toml");

/** The marker line that allows destructive statements in a file, naming who reviewed them. */
export const ALLOW_DESTRUCTIVE_MARKER = "-- plue:allow-destructive reviewed-by=<name>";

/** One problem in one migration file. */
export interface LintFinding {
  /** The file, relative to the repository root when it is inside it (`db/migrations/0006_x.sql`), else absolute. */
  readonly file: string;
  /** 1-based line of the statement (or token) the finding is about. */
  readonly line: number;
  /** 1-based column on that line. */
  readonly column: number;
  /** The rule: a squawk rule name (`adding-required-field`, `syntax-error`, ...) or one of the project's. */
  readonly rule: string;
  /** What is wrong, without a trailing period. */
  readonly message: string;
  /** An excerpt of the offending statement or name (whitespace collapsed, at most about 60 characters). */
  readonly got: string;
  /** How to fix it: a whole sentence. */
  readonly fix: string;
}

/** Options of {@link lintMigrations}. */
export interface LintOptions {
  /**
   * PostgreSQL major version the migrations will run on (squawk's `--pg-version`).
   * @default - the `pg_version` of the squawk configuration
   */
  readonly pgVersion?: number;
  /**
   * The squawk configuration file.
   * @default - the repository's `.squawk.toml` ({@link SQUAWK_CONFIG})
   */
  readonly squawkConfig?: string;
}

/** `<file>:<line>: '<rule>' <problem> (got <excerpt>). <fix>` */
export function formatFinding(f: LintFinding): string {
  return `${f.file}:${f.line}: '${f.rule}' ${f.message} (got ${f.got}). ${f.fix}`;
}

/**
 * Lints every migration in `dir` with squawk and the project's rules; returns the findings
 * sorted by file, line and column (empty when the directory is fine). Hidden entries (a
 * ConfigMap mount's `..data`) are ignored. Throws only when squawk itself cannot run.
 */
export function lintMigrations(dir: string, options: LintOptions = {}): LintFinding[] {
  const { findings, sources } = lintProjectRules(dir);
  return sortFindings([...findings, ...squawkFindings(dir, sources, runSquawkSync(dir, sources, options))]);
}

/**
 * {@link lintMigrations} with squawk running as a child process while the caller works: the
 * project's rules run now, squawk's findings join them when the promise settles (synth builds
 * the plan meanwhile, on the other core). Rejects only when squawk itself cannot run.
 */
export function lintMigrationsAsync(dir: string, options: LintOptions = {}): Promise<LintFinding[]> {
  const { findings, sources } = lintProjectRules(dir);
  return runSquawkAsync(dir, sources, options).then((run) => sortFindings([...findings, ...squawkFindings(dir, sources, run)]));
}

function sortFindings(findings: LintFinding[]): LintFinding[] {
  return findings.sort(
    (a, b) => a.file.localeCompare(b.file, "en") || a.line - b.line || a.column - b.column || a.rule.localeCompare(b.rule, "en"),
  );
}

/** The project's own rules over every file of `dir`, and the files squawk will read. */
function lintProjectRules(dir: string): { findings: LintFinding[]; sources: Map<string, SourceFile> } {
  const findings: LintFinding[] = [];
  const sources = new Map<string, SourceFile>();
  const versions = new Map<string, string[]>();
  for (const name of readdirSync(dir).sort()) {
    if (name.startsWith(".")) continue;
    const path = join(dir, name);
    const at = (rule: string, message: string, fix: string): LintFinding => ({
      file: displayPath(path),
      line: 1,
      column: 1,
      rule,
      message,
      got: name,
      fix,
    });
    const match = MIGRATION_FILE_PATTERN.exec(name);
    if (match === null) {
      findings.push(
        at(
          "migration-file-name",
          "is not a migration file name",
          "Name migrations NNNN_name.sql (a 4-digit version, then lowercase letters, digits and _); nothing else may live in the migrations directory.",
        ),
      );
      continue;
    }
    if (!statSync(path, { throwIfNoEntry: false })?.isFile()) {
      findings.push(at("migration-not-a-file", "is not a regular file", "Keep only migration files in the migrations directory."));
      continue;
    }
    const version = match[1] ?? "";
    versions.set(version, [...(versions.get(version) ?? []), name]);
    const sql = readFileSync(path, "utf8");
    const lexed = lex(displayPath(path), sql);
    sources.set(name, { sql, statements: lexed.statements });
    findings.push(...lexed.findings);
  }
  for (const [version, names] of versions) {
    if (names.length < 2) continue;
    for (const name of names) {
      findings.push({
        file: displayPath(join(dir, name)),
        line: 1,
        column: 1,
        rule: "duplicate-version",
        message: `uses version ${version}, like ${names.filter((n) => n !== name).join(", ")}`,
        got: name,
        fix: "Give every migration its own version: the next free one after the newest.",
      });
    }
  }
  return { findings, sources };
}

// ------------------------------------------------------------------------------- the SQL lexer

/** A top-level statement, as the project's rules read it. */
interface Statement {
  readonly line: number;
  readonly column: number;
  /** Code only: strings, quoted identifiers, dollar-quoted bodies and comments blanked out. */
  readonly top: string;
  /** Code, strings, identifiers and dollar-quoted bodies; comments blanked out. */
  readonly full: string;
  /** The source without comments, for the excerpt. */
  readonly text: string;
}

const MARKER_LINE = /^plue:allow-destructive[ \t]+reviewed-by=[A-Za-z0-9._@+-]+[ \t]*$/;
const DOLLAR_TAG = /^\$([A-Za-z_][A-Za-z_0-9]*)?\$/;
const IDENTIFIER_CHAR = /[A-Za-z0-9_]/;
const TRANSACTION_CONTROL = /^ (BEGIN|COMMIT|ROLLBACK|ABORT|END|SAVEPOINT|RELEASE|START TRANSACTION|PREPARE TRANSACTION) /;
/** What PostgreSQL refuses inside a transaction block: these words starting a statement, or CONCURRENTLY anywhere in it. */
const NOT_IN_TRANSACTION = /^ (VACUUM|CREATE DATABASE|ALTER SYSTEM|CREATE TABLESPACE|DROP TABLESPACE) | (CONCURRENTLY) /;
const DESTRUCTIVE_ANYWHERE = / (DROP (?:TABLE|COLUMN|SCHEMA|DATABASE)|TRUNCATE) /;

/** Uppercased words separated by single spaces, with a space at each end (`" DROP TABLE X "`). */
function words(s: string): string {
  return ` ${s
    .toUpperCase()
    .replace(/[^A-Z0-9_]+/g, " ")
    .trim()} `;
}

/** Whitespace collapsed, cut at about 60 characters. */
export function excerpt(s: string): string {
  const flat = s.replace(/\s+/g, " ").trim().replace(/\s*;$/, "");
  return flat.length > 60 ? `${flat.slice(0, 57)}...` : flat;
}

/**
 * The project's rules over one file's SQL. Exported for the tests; {@link lintMigrations} is the
 * entry point.
 */
export function lintSql(file: string, sql: string): LintFinding[] {
  return lex(file, sql).findings;
}

/** Where a top-level statement starts (1-based), and its text without comments. */
interface StatementSpan {
  readonly line: number;
  readonly column: number;
  readonly text: string;
}

/** A migration's text and its statements, for the excerpts of squawk's findings. */
interface SourceFile {
  readonly sql: string;
  readonly statements: readonly StatementSpan[];
}

function lex(file: string, sql: string): { findings: LintFinding[]; statements: StatementSpan[] } {
  const findings: LintFinding[] = [];
  const statements: StatementSpan[] = [];
  const problem = (line: number, column: number, rule: string, message: string, got: string, fix: string) =>
    findings.push({ file, line, column, rule, message, got: excerpt(got), fix });

  const destructive: { statement: Statement; what: string }[] = [];
  let marker = false;
  let atomic = false;

  // The statement being read.
  let top = "";
  let full = "";
  let text = "";
  let startLine = 0;
  let startColumn = 0;
  const mark = (line: number, column: number) => {
    if (startLine === 0) {
      startLine = line;
      startColumn = column;
    }
  };
  const flush = () => {
    if (startLine === 0) return;
    const statement: Statement = { line: startLine, column: startColumn, top, full, text };
    statements.push({ line: startLine, column: startColumn, text });
    top = "";
    full = "";
    text = "";
    startLine = 0;
    const t = words(statement.top);
    const f = words(statement.full);
    if (atomic) {
      // Inside CREATE FUNCTION ... BEGIN ATOMIC ... END: END closes the body.
      if (t.startsWith(" END ")) atomic = false;
    } else if (t.includes(" BEGIN ATOMIC ") && !t.startsWith(" BEGIN ")) {
      atomic = true;
    } else {
      const outside = NOT_IN_TRANSACTION.exec(t);
      if (outside !== null) {
        const concurrently = outside[2] !== undefined;
        problem(
          statement.line,
          statement.column,
          "not-in-transaction",
          `${concurrently ? "CONCURRENTLY" : outside[1]} cannot run inside a transaction block, and the runner applies every migration in one`,
          statement.text,
          concurrently
            ? "Leave out CONCURRENTLY: the statement then locks the table while it runs, which squawk's require-concurrent-* rules ask you to review (docs/adr/0013)."
            : "Run it outside the migrations: it is not a schema change.",
        );
      }
      const control = TRANSACTION_CONTROL.exec(t);
      if (control !== null) {
        problem(
          statement.line,
          statement.column,
          "transaction-control",
          `${control[1]} is not allowed in a migration`,
          statement.text,
          "Remove it: the runner applies each migration in its own transaction, and records it in the same one.",
        );
      }
    }
    const anywhere = DESTRUCTIVE_ANYWHERE.exec(f);
    let what: string | undefined = anywhere?.[1];
    if (what === undefined && t.startsWith(" ALTER TABLE ") && t.includes(" DROP ")) what = "ALTER TABLE ... DROP";
    if (what === undefined && t.startsWith(" DELETE FROM ") && !t.includes(" WHERE ")) what = "DELETE without WHERE";
    if (what !== undefined) destructive.push({ statement, what });
  };

  const lines = sql.split("\n");
  // Lexer state that spans lines.
  type Mode = "code" | "string" | "identifier" | "dollar" | "comment";
  let mode: Mode = "code";
  let escapes = false; // E'...' string: backslash escapes
  let tag = ""; // the dollar quote's tag, e.g. "$fn$"
  let depth = 0; // block comment nesting
  let openLine = 0;
  let openColumn = 0;
  let openText = "";

  for (let l = 0; l < lines.length; l++) {
    const line = (lines[l] ?? "").replace(/\r$/, "");
    const lineNo = l + 1;
    let i = 0;
    while (i < line.length) {
      const c = line[i] ?? "";
      const column = i + 1;
      if (mode === "code") {
        const two = line.slice(i, i + 2);
        if (two === "--") {
          const comment = line.slice(i);
          if (line.slice(0, i).trim() === "") {
            const body = comment.replace(/^--[ \t]*/, "");
            if (body.startsWith("plue:allow-destructive")) {
              if (MARKER_LINE.test(body)) marker = true;
              else {
                problem(
                  lineNo,
                  column,
                  "allow-destructive-marker",
                  "is malformed",
                  comment,
                  `The line must read "${ALLOW_DESTRUCTIVE_MARKER}" and name the reviewer.`,
                );
              }
            }
          }
          if (/squawk-disable-assume-in-transaction/.test(comment)) {
            problem(
              lineNo,
              column,
              "squawk-transaction-override",
              "tells squawk this file runs outside a transaction, but the runner applies every migration in one",
              comment,
              "Remove the comment.",
            );
          }
          break;
        }
        if (two === "/*") {
          mode = "comment";
          depth = 1;
          [openLine, openColumn, openText] = [lineNo, column, line.slice(i)];
          top += " ";
          full += " ";
          text += " ";
          i += 2;
          continue;
        }
        if (c === "'") {
          mark(lineNo, column);
          const before = line[i - 1] ?? "";
          const beforeThat = line[i - 2] ?? "";
          escapes = (before === "E" || before === "e") && !/[A-Za-z0-9_$]/.test(beforeThat);
          mode = "string";
          [openLine, openColumn, openText] = [lineNo, column, line.slice(i)];
          top += " ";
          full += c;
          text += c;
          i++;
          continue;
        }
        if (c === '"') {
          mark(lineNo, column);
          mode = "identifier";
          [openLine, openColumn, openText] = [lineNo, column, line.slice(i)];
          top += " QI ";
          full += c;
          text += c;
          i++;
          continue;
        }
        if (c === "$" && !IDENTIFIER_CHAR.test(line[i - 1] ?? "")) {
          const m = DOLLAR_TAG.exec(line.slice(i));
          if (m !== null) {
            mark(lineNo, column);
            tag = m[0];
            mode = "dollar";
            [openLine, openColumn, openText] = [lineNo, column, line.slice(i)];
            top += " ";
            full += " ";
            text += tag;
            i += tag.length;
            continue;
          }
        }
        if (c === ";") {
          text += c;
          flush();
          i++;
          continue;
        }
        if (c === "\\") {
          problem(
            lineNo,
            column,
            "psql-meta-command",
            "is a psql meta-command, which is not allowed in a migration",
            line.slice(i),
            "Remove it: a migration is plain SQL (the runner feeds it to psql, where a backslash command would run).",
          );
          break;
        }
        if (c !== " " && c !== "\t") mark(lineNo, column);
        top += c;
        full += c;
        text += c;
        i++;
      } else if (mode === "string" || mode === "identifier") {
        // 'string' or "identifier": a doubled quote stands for itself; E'...' also takes \ escapes.
        const quote = mode === "string" ? "'" : '"';
        if (mode === "string" && escapes && c === "\\") {
          full += line.slice(i, i + 2);
          text += line.slice(i, i + 2);
          i += 2;
          continue;
        }
        if (c === quote) {
          if (line[i + 1] === quote) {
            full += quote + quote;
            text += quote + quote;
            i += 2;
            continue;
          }
          mode = "code";
        }
        full += c;
        text += c;
        i++;
      } else if (mode === "dollar") {
        const end = line.indexOf(tag, i);
        if (end < 0) {
          full += line.slice(i);
          text += line.slice(i);
          break;
        }
        full += `${line.slice(i, end)} `;
        text += line.slice(i, end) + tag;
        i = end + tag.length;
        mode = "code";
      } else {
        const two = line.slice(i, i + 2);
        if (two === "/*") {
          depth++;
          i += 2;
        } else if (two === "*/") {
          depth--;
          i += 2;
          if (depth === 0) mode = "code";
        } else i++;
      }
    }
    top += " ";
    full += mode === "string" || mode === "identifier" || mode === "dollar" ? "\n" : " ";
    text += "\n";
  }

  if (mode === "code") flush();
  else {
    if (startLine !== 0) statements.push({ line: startLine, column: startColumn, text });
    const what = { string: "quoted string", identifier: "quoted identifier", dollar: `dollar-quoted string ${tag}`, comment: "/* comment" }[
      mode
    ];
    problem(openLine, openColumn, "unterminated", `${what} is never closed`, openText, "Close it.");
  }

  if (!marker) {
    for (const { statement, what } of destructive) {
      problem(
        statement.line,
        statement.column,
        "destructive-statement",
        `${what} destroys data and the file has no reviewed marker`,
        statement.text,
        `If it is intended and reviewed, add the line "${ALLOW_DESTRUCTIVE_MARKER}" to the file.`,
      );
    }
  }
  return { findings, statements };
}

// ------------------------------------------------------------------------------------- squawk

/** Project-specific advice where squawk's own would not work with the runner (each file runs in a transaction). */
const SQUAWK_FIX: Readonly<Record<string, string>> = {
  "require-concurrent-index-creation":
    'CONCURRENTLY cannot run in the runner\'s per-migration transaction: if the table is small enough to block its writes for the build, add the line "-- squawk-ignore require-concurrent-index-creation" above the statement; otherwise the runner needs a non-transactional mode first (docs/adr/0013).',
  "require-concurrent-index-deletion":
    "CONCURRENTLY cannot run in the runner's per-migration transaction: if a short ACCESS EXCLUSIVE lock (bounded by the runner's lock_timeout) is acceptable, add the line \"-- squawk-ignore require-concurrent-index-deletion\" above the statement.",
  "require-concurrent-reindex":
    'CONCURRENTLY cannot run in the runner\'s per-migration transaction: if the table is small, add the line "-- squawk-ignore require-concurrent-reindex" above the statement.',
  "require-concurrent-partition-detach":
    'CONCURRENTLY cannot run in the runner\'s per-migration transaction: if a short ACCESS EXCLUSIVE lock is acceptable, add the line "-- squawk-ignore require-concurrent-partition-detach" above the statement.',
};

interface SquawkViolation {
  file: string;
  line: number;
  column: number;
  line_end: number;
  column_end: number;
  message: string;
  help: string | null;
  rule_name: string;
}

/** Path of the squawk binary for this platform, from the `squawk-cli` package's optional dependency. */
export function squawkBinary(): string {
  // From the repository root: the same from the sources and from a command's bundle (only
  // lib/paths.ts reads its own module URL; docs/adr/0009).
  const require = createRequire(join(REPO_ROOT, "package.json"));
  const cli = require.resolve("squawk-cli/package.json");
  const platform = `@squawk-cli/${process.platform}-${process.arch}`;
  const exe = process.platform === "win32" ? "squawk.exe" : "squawk";
  try {
    return createRequire(cli).resolve(`${platform}/bin/${exe}`);
  } catch {
    throw new Error(`squawk: ${platform} is not installed (squawk-cli ships no binary for this platform, or npm skipped it). Run npm ci.`);
  }
}

/** What one squawk process printed. */
interface SquawkRun {
  readonly status: number | null;
  readonly signal: string | null;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * One squawk process over every file (run from `dir` with bare file names, so no directory name
 * is read as a glob pattern), JSON reporter: its command line.
 */
function squawkCommand(sources: ReadonlyMap<string, SourceFile>, options: LintOptions): string[] {
  const args = ["--reporter", "json", "--config", options.squawkConfig ?? SQUAWK_CONFIG];
  if (options.pgVersion !== undefined) args.push("--pg-version", String(options.pgVersion));
  return [...args, ...sources.keys()];
}

const NO_FILES: SquawkRun = { status: 0, signal: null, stdout: "[]", stderr: "" };

function runSquawkSync(dir: string, sources: ReadonlyMap<string, SourceFile>, options: LintOptions): SquawkRun {
  if (sources.size === 0) return NO_FILES;
  const run = spawnSync(squawkBinary(), squawkCommand(sources, options), { cwd: dir, encoding: "utf8", maxBuffer: 64 * 1024 * 1024 });
  if (run.error !== undefined) throw new Error(`squawk could not be started: ${run.error.message}`);
  return { status: run.status, signal: run.signal, stdout: run.stdout, stderr: run.stderr };
}

function runSquawkAsync(dir: string, sources: ReadonlyMap<string, SourceFile>, options: LintOptions): Promise<SquawkRun> {
  if (sources.size === 0) return Promise.resolve(NO_FILES);
  return new Promise((resolveRun, reject) => {
    const child = spawn(squawkBinary(), squawkCommand(sources, options), { cwd: dir, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
      stdout += chunk;
    });
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => {
      stderr += chunk;
    });
    child.on("error", (error) => reject(new Error(`squawk could not be started: ${error.message}`)));
    child.on("close", (status, signal) => resolveRun({ status, signal, stdout, stderr }));
  });
}

/** squawk's JSON report as findings. */
function squawkFindings(dir: string, sources: ReadonlyMap<string, SourceFile>, run: SquawkRun): LintFinding[] {
  let violations: SquawkViolation[];
  try {
    violations = JSON.parse(run.stdout) as SquawkViolation[];
    if (!Array.isArray(violations) || (run.status !== 0 && run.status !== 1)) throw new Error("unexpected output");
  } catch {
    throw new Error(`squawk failed (exit ${run.status ?? run.signal}): ${(run.stderr || run.stdout).trim()}`);
  }
  return violations.map((v) => {
    const source = sources.get(v.file);
    const help = SQUAWK_FIX[v.rule_name] ?? v.help ?? `See https://squawkhq.com/docs/${v.rule_name}`;
    return {
      file: displayPath(join(dir, v.file)),
      // squawk counts lines and columns from 0.
      line: v.line + 1,
      column: v.column + 1,
      rule: v.rule_name,
      message: v.message.replace(/\.$/, ""),
      got: excerpt(source === undefined ? "" : enclosingStatement(source, v.line + 1, v.column + 1)),
      fix: /[.!?]$/.test(help) ? help : `${help}.`,
    };
  });
}

/** The text of the top-level statement at (line, column) (1-based), or that line from the column on. */
function enclosingStatement(source: SourceFile, line: number, column: number): string {
  let found: StatementSpan | undefined;
  for (const s of source.statements) {
    if (s.line < line || (s.line === line && s.column <= column)) found = s;
    else break;
  }
  return found?.text ?? (source.sql.split("\n")[line - 1] ?? "").slice(column - 1);
}

/** Relative to the repository root when inside it (forward slashes), else absolute. */
function displayPath(path: string): string {
  const rel = relative(REPO_ROOT, resolve(path));
  if (rel.startsWith("..") || isAbsolute(rel)) return resolve(path);
  return rel.split(sep).join("/");
}
