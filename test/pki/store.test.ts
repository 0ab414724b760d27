import { describe, it, expect, afterAll } from "vitest";
import { chmodSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { OperationalError } from "../../pki/errors.ts";
import {
  backupPathFor,
  ensurePrivateDir,
  resolveLayout,
  writeFilesAtomically,
  PRIVATE_FILE_MODE,
  PUBLIC_FILE_MODE,
} from "../../pki/store.ts";
import { tempDirs } from "./helpers.ts";

const dirs = tempDirs();
afterAll(() => dirs.cleanup());

const NOW = new Date("2030-01-02T03:04:05.678Z");
const mode = (path: string): number => statSync(path).mode & 0o777;

describe("resolveLayout", () => {
  it("puts private files in --dir and public copies in --dir/public", () => {
    expect(
      resolveLayout({ repoRoot: "/repo", configDir: ".pki/x", configPublicDir: "config/pki/x", dirOverride: "store", cwd: "/work" }),
    ).toEqual({
      privateDir: "/work/store",
      publicDir: "/work/store/public",
    });
  });

  it("uses the environment's pki.dir and pki.publicDir under the repository root by default", () => {
    expect(resolveLayout({ repoRoot: "/repo", configDir: ".pki/x", configPublicDir: "config/pki/x" })).toEqual({
      privateDir: "/repo/.pki/x",
      publicDir: "/repo/config/pki/x",
    });
  });
});

describe("writeFilesAtomically", () => {
  it("writes new files with their modes, whatever the umask, and leaves no temp file", () => {
    const dir = dirs.make();
    const previous = process.umask(0o077);
    try {
      writeFilesAtomically(
        [
          { path: join(dir, "a.key.pem"), content: "secret\n", mode: PRIVATE_FILE_MODE },
          { path: join(dir, "a.pem"), content: "public\n", mode: PUBLIC_FILE_MODE },
        ],
        { existing: "refuse", now: NOW },
      );
    } finally {
      process.umask(previous);
    }
    expect(mode(join(dir, "a.key.pem"))).toBe(0o600);
    expect(mode(join(dir, "a.pem"))).toBe(0o644);
    expect(readFileSync(join(dir, "a.key.pem"), "utf8")).toBe("secret\n");
    expect(readdirSync(dir).sort()).toEqual(["a.key.pem", "a.pem"]);
  });

  it("fails if a target exists and leaves every file unchanged (no partial write)", () => {
    const dir = dirs.make();
    writeFileSync(join(dir, "b.pem"), "old cert\n");
    const attempt = () =>
      writeFilesAtomically(
        [
          { path: join(dir, "b.key.pem"), content: "new key\n", mode: PRIVATE_FILE_MODE },
          { path: join(dir, "b.pem"), content: "new cert\n", mode: PUBLIC_FILE_MODE },
        ],
        { existing: "refuse", now: NOW },
      );
    expect(attempt).toThrow(OperationalError);
    expect(attempt).toThrow(`${join(dir, "b.pem")}: already exists; refusing to overwrite it. Pass --force`);
    expect(readFileSync(join(dir, "b.pem"), "utf8")).toBe("old cert\n");
    expect(readdirSync(dir)).toEqual(["b.pem"]);
  });

  it("with backup, copies the old file to <name>.bak-<UTC timestamp> (0600) before replacing it", () => {
    const dir = dirs.make();
    const path = join(dir, "c.key.pem");
    writeFileSync(path, "old key\n", { mode: 0o644 });
    const [first] = writeFilesAtomically([{ path, content: "new key\n", mode: PRIVATE_FILE_MODE }], { existing: "backup", now: NOW });
    expect(first?.backupPath).toBe(`${path}.bak-20300102T030405Z`);
    expect(readFileSync(`${path}.bak-20300102T030405Z`, "utf8")).toBe("old key\n");
    expect(mode(`${path}.bak-20300102T030405Z`)).toBe(0o600);
    expect(readFileSync(path, "utf8")).toBe("new key\n");
    expect(mode(path)).toBe(0o600);

    // A second replacement in the same second keeps both backups.
    const [second] = writeFilesAtomically([{ path, content: "newer key\n", mode: PRIVATE_FILE_MODE }], { existing: "backup", now: NOW });
    expect(second?.backupPath).toBe(`${path}.bak-20300102T030405Z-2`);
    expect(readFileSync(`${path}.bak-20300102T030405Z-2`, "utf8")).toBe("new key\n");
    expect(readFileSync(`${path}.bak-20300102T030405Z`, "utf8")).toBe("old key\n");
  });

  it("names backups by UTC time to the second", () => {
    expect(backupPathFor("/s/ca.key.pem", new Date("2031-12-31T23:59:59.999Z"))).toBe("/s/ca.key.pem.bak-20311231T235959Z");
  });
});

describe("ensurePrivateDir", () => {
  it("creates missing directories with mode 0700", () => {
    const dir = join(dirs.make(), "deep", "store");
    const warnings: string[] = [];
    ensurePrivateDir(dir, (w) => warnings.push(w));
    expect(mode(dir)).toBe(0o700);
    expect(warnings).toEqual([]);
  });

  it("tightens an existing directory that others can read, and says so", () => {
    const dir = join(dirs.make(), "store");
    mkdirSync(dir);
    chmodSync(dir, 0o755);
    for (const name of ["ca.pem", "ca.key.pem", "client.key.pem.bak-20300102T030405Z-2", "origin.csr.pem"])
      writeFileSync(join(dir, name), "");
    mkdirSync(join(dir, "public"));
    const warnings: string[] = [];
    ensurePrivateDir(dir, (w) => warnings.push(w));
    expect(mode(dir)).toBe(0o700);
    expect(warnings).toEqual([`warning: ${dir}: private store directory had mode 0755; tightened to 0700.`]);
  });

  it("leaves a shared directory (holding other files) unchanged, with a warning", () => {
    const dir = join(dirs.make(), "shared");
    mkdirSync(dir);
    chmodSync(dir, 0o755);
    writeFileSync(join(dir, "notes.txt"), "");
    writeFileSync(join(dir, "ca.pem"), "");
    const warnings: string[] = [];
    ensurePrivateDir(dir, (w) => warnings.push(w));
    expect(mode(dir)).toBe(0o755);
    expect(warnings).toEqual([
      `warning: ${dir}: private store directory has mode 0755 and holds other files (notes.txt); left unchanged. Use a directory of its own, mode 0700.`,
    ]);
  });

  it("fails if the path is a file", () => {
    const file = join(dirs.make(), "file");
    writeFileSync(file, "");
    expect(() => ensurePrivateDir(file, () => undefined)).toThrow(`${file}: is not a directory`);
  });
});
