/**
 * `lock`: resolve every layer's packages from its repository's index into layers.lock.
 * Re-resolves what the manifest changed and keeps the rest; `--upgrade [PACKAGE…]` moves
 * packages to the repository's current versions; `--check` writes nothing and fails when the
 * lock does not match the manifest, saying what differs.
 */
import { parseStrict } from "../util/parse-args.ts";
import { readFile } from "node:fs/promises";
import { basename } from "node:path";
import { ManifestError, PipelineError, UsageError } from "../errors.ts";
import type { Problem } from "../errors.ts";
import { loadManifest } from "../manifest/load.ts";
import { parseManifestSource } from "../manifest/source.ts";
import { describeDifference, diffLocks } from "../lock/diff.ts";
import { readLockFile, writeLockFile } from "../lock/file.ts";
import { lockFilePath } from "../lock/format.ts";
import { readIndexes } from "../lock/index-source.ts";
import type { PackageIndexSource } from "../lock/index-source.ts";
import { repositoriesToRead, resolveLock } from "../lock/resolve.ts";
import type { ResolveMode, ResolveProblem } from "../lock/resolve.ts";

export const LOCK_USAGE = `Usage: tsx pipeline/lock.ts [options] [--upgrade [PACKAGE...]]

Resolves the packages of every layer (with their Depends, Imports and LinkingTo, minus R's base
packages and what stacked layers provide) from each layer's repository index, and writes them
with versions and checksums to layers.lock beside the manifest. Entries the manifest did not
change are kept as they are.

Options:
  --manifest FILE        manifest (default: layers.yaml); the lock file is FILE with .lock
  --upgrade [PACKAGE...] move these packages (all, when none are named) to the repository's
                         current versions
  --check                write nothing; exit 1 when the lock does not match the manifest
  --allow-file-repository
                         accept file:// repositories (for local builds; see plan --help)
  -h, --help             show this help
`;

export interface LockOptions {
  manifest: string;
  upgrade?: readonly string[];
  check: boolean;
  help: boolean;
  allowFileRepository?: boolean;
}

export function parseLockArgs(argv: readonly string[]): LockOptions {
  const parsed = parseStrict(
    argv,
    LOCK_USAGE,
    {
      manifest: { type: "string" },
      upgrade: { type: "boolean" },
      check: { type: "boolean" },
      "allow-file-repository": { type: "boolean" },
      help: { type: "boolean", short: "h" },
    },
    true,
  );
  const { values, positionals } = parsed;
  if (positionals.length && values.upgrade !== true) throw new UsageError(`package names are taken after --upgrade only, not "${positionals.join(" ")}"\n\n${LOCK_USAGE}`);
  if (values.upgrade === true && values.check === true) throw new UsageError("--check and --upgrade do not go together: --check writes nothing");
  const bad = positionals.filter((p) => !/^[A-Za-z][A-Za-z0-9.]*[A-Za-z0-9]$/.test(p));
  if (bad.length) throw new UsageError(`not R package names: ${bad.join(", ")}`);
  return {
    manifest: typeof values.manifest === "string" ? values.manifest : "layers.yaml",
    ...(values.upgrade === true ? { upgrade: [...positionals] } : {}),
    check: values.check === true,
    help: values.help === true,
    ...(values["allow-file-repository"] === true ? { allowFileRepository: true } : {}),
  };
}

export interface LockIo {
  readonly stdout: (text: string) => void;
  readonly source: PackageIndexSource;
}

export async function lockCommand(options: LockOptions, io: LockIo): Promise<number> {
  if (options.help) {
    io.stdout(LOCK_USAGE);
    return 0;
  }
  const manifest = await loadManifest(options.manifest, { allowFileRepositories: options.allowFileRepository === true });
  const file = lockFilePath(options.manifest);
  const previous = await readLockFile(file);
  const mode: ResolveMode = options.upgrade
    ? { kind: "upgrade", ...(options.upgrade.length ? { packages: new Set(options.upgrade) } : {}) }
    : { kind: "keep" };
  if (options.upgrade?.length) {
    const locked = new Set(Object.values(previous?.layers ?? {}).flatMap((vs) => Object.values(vs).flatMap((e) => Object.keys(e.packages))));
    const unknown = options.upgrade.filter((p) => !locked.has(p));
    if (unknown.length) throw new UsageError(`${file} locks no package named ${unknown.join(", ")}`);
  }
  const repositories = repositoriesToRead(manifest, previous, mode);
  const indexes = await readIndexes(io.source, repositories);
  const result = resolveLock({ manifest, indexes, ...(previous ? { previous } : {}), mode });
  if (result.problems.length) throw new ManifestError(await problemsAt(options.manifest, result.problems), "found resolving packages");

  const differences = diffLocks(previous, result.lock);
  const entries = Object.values(result.lock.layers).reduce((n, vs) => n + Object.keys(vs).length, 0);
  if (options.check) {
    if (!previous) throw new PipelineError("LOCKFILE_STALE", `there is no ${file}: run npm run lock and commit it`);
    if (differences.length) {
      throw new PipelineError(
        "LOCKFILE_STALE",
        `${file} does not match ${options.manifest}:\n${differences.map((d) => `  ${describeDifference(d)}`).join("\n")}\nrun npm run lock and commit ${basename(file)}`,
      );
    }
    io.stdout(`${file} matches ${options.manifest} (${entries} entries).\n`);
    return 0;
  }
  if (differences.length === 0 && previous) {
    io.stdout(`${file} is up to date (${entries} entries).\n`);
    return 0;
  }
  await writeLockFile(file, result.lock, basename(options.manifest));
  io.stdout(`Wrote ${file}:\n${differences.map((d) => `  ${describeDifference(d)}\n`).join("")}`);
  return 0;
}

/** Each problem at the line of its layer in the manifest. */
async function problemsAt(manifestFile: string, problems: readonly ResolveProblem[]): Promise<Problem[]> {
  const source = parseManifestSource(await readFile(manifestFile, "utf8"), manifestFile);
  return problems
    .map((p) => source.problem(["layers", p.layerIndex], `layer ${p.layer}, R ${p.rVersion}: ${p.message}`))
    .sort((a, b) => a.line - b.line || a.message.localeCompare(b.message));
}
