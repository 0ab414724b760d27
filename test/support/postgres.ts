/**
 * Test harness: a throwaway PostgreSQL server for integration tests.
 *
 * `startPostgres()` runs `initdb` + `pg_ctl` in a fresh temporary directory,
 * listening on a random free port on 127.0.0.1 only (the Unix socket lives in
 * the temporary directory too), with `trust` authentication and `fsync=off`:
 * it is meant for tests, never for data anyone wants to keep.
 *
 * PostgreSQL refuses to run as root. When the tests run as root (CI does),
 * the server is initialised and run as the `postgres` system user through
 * `runuser` (or `su` where `runuser` is missing), and the temporary directory
 * is handed over to that user.
 */
import { execFile, spawnSync } from "node:child_process";
import {
  accessSync,
  chmodSync,
  chownSync,
  constants,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import { promisify } from "node:util";
import pg from "pg";

const execFileAsync = promisify(execFile);

/** A running throwaway PostgreSQL server. */
export interface TestPostgres {
  /** libpq URL of database `db` (default `postgres`) as the `postgres` superuser. */
  url(db?: string): string;
  /** The TCP port the server listens on (on 127.0.0.1). */
  readonly port: number;
  /** Creates an empty database named `name` and returns its URL. */
  createDatabase(name: string, options?: { template?: string }): Promise<string>;
  /** Stops the server (`pg_ctl stop -m immediate`) and removes its directory. Idempotent. */
  stop(): Promise<void>;
}

const MISSING_BINARIES =
  "PostgreSQL server binaries not found (initdb, pg_ctl). Install them: apt-get update && apt-get install -y postgresql";

const DB_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function onPath(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? "").split(delimiter)) {
    if (dir !== "" && isExecutable(join(dir, name))) return join(dir, name);
  }
  return undefined;
}

/** Locates `initdb` and `pg_ctl`: on PATH first, else the newest /usr/lib/postgresql/N/bin. */
function findServerBinaries(): { initdb: string; pgCtl: string } {
  const initdb = onPath("initdb");
  const pgCtl = onPath("pg_ctl");
  if (initdb !== undefined && pgCtl !== undefined) return { initdb, pgCtl };
  const root = "/usr/lib/postgresql";
  const versions = existsSync(root)
    ? readdirSync(root)
        .filter((v) => /^\d+(\.\d+)?$/.test(v))
        .sort((a, b) => Number.parseFloat(b) - Number.parseFloat(a))
    : [];
  for (const version of versions) {
    const bin = join(root, version, "bin");
    if (isExecutable(join(bin, "initdb")) && isExecutable(join(bin, "pg_ctl"))) {
      return { initdb: join(bin, "initdb"), pgCtl: join(bin, "pg_ctl") };
    }
  }
  throw new Error(MISSING_BINARIES);
}

/** POSIX-shell single quoting, for the `su -c` fallback. */
function shellQuote(arg: string): string {
  return `'${arg.replace(/'/g, `'\\''`)}'`;
}

interface Runner {
  /**
   * Runs `file args` as the server's user in `cwd` (a directory that user can
   * read: the repository may live where it cannot); rejects with the output.
   */
  run(file: string, args: readonly string[], cwd: string): Promise<void>;
  /** Synchronous best-effort variant, for the process-exit safety net. */
  runSync(file: string, args: readonly string[], cwd: string): void;
  /** uid/gid to hand the data directory to, when running as root. */
  owner?: { uid: number; gid: number };
}

function lookupUser(name: string): { uid: number; gid: number } | undefined {
  const uid = spawnSync("id", ["-u", name], { encoding: "utf8" });
  const gid = spawnSync("id", ["-g", name], { encoding: "utf8" });
  if (uid.status !== 0 || gid.status !== 0) return undefined;
  return { uid: Number.parseInt(uid.stdout.trim(), 10), gid: Number.parseInt(gid.stdout.trim(), 10) };
}

function makeRunner(): Runner {
  const env = { ...process.env, LC_ALL: "C", LANG: "C" };
  const direct = (file: string, args: readonly string[]): [string, string[]] => [file, [...args]];
  let wrap = direct;
  let owner: { uid: number; gid: number } | undefined;
  if (typeof process.getuid === "function" && process.getuid() === 0) {
    owner = lookupUser("postgres");
    if (owner === undefined) {
      throw new Error(
        "PostgreSQL refuses to run as root and there is no 'postgres' system user to run it as. " +
          "Create it: apt-get update && apt-get install -y postgresql (or: useradd --system --user-group postgres)",
      );
    }
    const runuser = onPath("runuser") ?? (isExecutable("/usr/sbin/runuser") ? "/usr/sbin/runuser" : undefined);
    if (runuser !== undefined) {
      wrap = (file, args) => [runuser, ["-u", "postgres", "--", file, ...args]];
    } else {
      const su = onPath("su") ?? "/bin/su";
      wrap = (file, args) => [su, ["postgres", "-s", "/bin/sh", "-c", [file, ...args].map(shellQuote).join(" ")]];
    }
  }
  const runner: Runner = {
    async run(file, args, cwd) {
      const [cmd, argv] = wrap(file, args);
      try {
        await execFileAsync(cmd, argv, { cwd, env, timeout: 60_000, maxBuffer: 16 * 1024 * 1024 });
      } catch (err) {
        const e = err as { stdout?: string; stderr?: string; message: string };
        throw new Error(`${file} ${args.join(" ")} failed: ${e.message}\n${e.stdout ?? ""}${e.stderr ?? ""}`);
      }
    },
    runSync(file, args, cwd) {
      const [cmd, argv] = wrap(file, args);
      spawnSync(cmd, argv, { cwd, env, stdio: "ignore", timeout: 30_000 });
    },
  };
  if (owner !== undefined) runner.owner = owner;
  return runner;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      if (address === null || typeof address === "string") {
        server.close();
        reject(new Error("could not determine a free port"));
        return;
      }
      server.close(() => resolve(address.port));
    });
  });
}

/**
 * Starts a throwaway PostgreSQL server (initdb + pg_ctl in a temp dir, random
 * port on 127.0.0.1, trust auth, fsync off). Call `stop()` when done.
 */
export async function startPostgres(): Promise<TestPostgres> {
  const { initdb, pgCtl } = findServerBinaries();
  const runner = makeRunner();

  const base = mkdtempSync(join(tmpdir(), "plue-pg-"));
  const dataDir = join(base, "data");
  const logFile = join(base, "server.log");
  let stopped = false;

  const cleanupSync = (): void => {
    if (stopped) return;
    stopped = true;
    if (existsSync(join(dataDir, "postmaster.pid"))) runner.runSync(pgCtl, ["-D", dataDir, "stop", "-m", "immediate", "-w"], base);
    rmSync(base, { recursive: true, force: true });
  };
  // Safety net: never leave a server behind when the test process ends early.
  const onExit = (): void => cleanupSync();
  process.once("exit", onExit);

  try {
    if (runner.owner !== undefined) {
      // mkdtemp made it 0700 root:root; hand it over so initdb can create data/.
      chmodSync(base, 0o700);
      chownSync(base, runner.owner.uid, runner.owner.gid);
    }
    await runner.run(initdb, ["-D", dataDir, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--locale=C", "--no-sync"], base);
    const conf = join(dataDir, "postgresql.conf");
    writeFileSync(
      conf,
      readFileSync(conf, "utf8") +
        [
          "",
          "# plue test harness",
          "listen_addresses = '127.0.0.1'",
          `unix_socket_directories = '${base}'`,
          "fsync = off",
          "synchronous_commit = off",
          "full_page_writes = off",
          "max_connections = 200",
          "log_min_messages = warning",
          "",
        ].join("\n"),
    );

    // The port is chosen before the server binds it; retry if someone else won the race.
    let port = 0;
    let lastError: unknown;
    for (let attempt = 0; attempt < 5; attempt++) {
      port = await freePort();
      try {
        await runner.run(pgCtl, ["-D", dataDir, "-l", logFile, "-o", `-p ${port}`, "-w", "-t", "60", "start"], base);
        lastError = undefined;
        break;
      } catch (err) {
        lastError = err;
      }
    }
    if (lastError !== undefined) {
      const log = existsSync(logFile) ? readFileSync(logFile, "utf8") : "";
      throw new Error(`PostgreSQL did not start: ${String(lastError)}\n${log}`);
    }

    const url = (db = "postgres"): string => `postgresql://postgres@127.0.0.1:${port}/${encodeURIComponent(db)}`;
    return {
      port,
      url,
      async createDatabase(name, options) {
        if (!DB_NAME.test(name)) throw new Error(`invalid test database name: ${name}`);
        if (options?.template !== undefined && !DB_NAME.test(options.template)) {
          throw new Error(`invalid template database name: ${options.template}`);
        }
        const client = new pg.Client({ connectionString: url() });
        await client.connect();
        try {
          const template = options?.template !== undefined ? ` TEMPLATE "${options.template}"` : "";
          await client.query(`CREATE DATABASE "${name}"${template}`);
        } finally {
          await client.end();
        }
        return url(name);
      },
      async stop() {
        if (stopped) return;
        process.removeListener("exit", onExit);
        try {
          if (existsSync(join(dataDir, "postmaster.pid"))) {
            await runner.run(pgCtl, ["-D", dataDir, "stop", "-m", "immediate", "-w"], base);
          }
        } finally {
          stopped = true;
          rmSync(base, { recursive: true, force: true });
        }
      },
    };
  } catch (err) {
    process.removeListener("exit", onExit);
    cleanupSync();
    throw err;
  }
}
