/**
 * An `renv.lock`: its packages become a layer, and its repository that layer's `repository` when
 * it is a dated snapshot. renv.lock lists a project's whole library; when it records each
 * package's requirements (renv 1.0 and later), only the packages nothing else requires are named,
 * since a layer installs dependencies itself.
 */
import { UsageError } from "../../errors.ts";
import { installable, repositoryFinding, rVersionFinding } from "./common.ts";
import type { ImportContext, ImportFinding, Imported } from "./types.ts";

interface RenvPackage {
  Package?: unknown;
  Version?: unknown;
  Source?: unknown;
  Repository?: unknown;
  RemoteRepo?: unknown;
  RemoteUsername?: unknown;
  Requirements?: unknown;
}
interface RenvLock {
  R?: { Version?: unknown; Repositories?: unknown };
  Packages?: Record<string, RenvPackage>;
}

export function looksLikeRenvLock(text: string): boolean {
  return /^\s*\{/.test(text) && /"Packages"\s*:/.test(text);
}

const strings = (v: unknown): string[] => (Array.isArray(v) ? v.filter((x): x is string => typeof x === "string") : []);

export function importRenvLock(text: string, context: ImportContext): Imported {
  let lock: RenvLock;
  try {
    lock = JSON.parse(text) as RenvLock;
  } catch (error) {
    throw new UsageError(`${context.file} is not valid JSON (${(error as Error).message}): is it an renv.lock?`);
  }
  if (typeof lock !== "object" || lock === null || typeof lock.Packages !== "object" || lock.Packages === null) {
    throw new UsageError(`${context.file} has no "Packages": it is not an renv.lock`);
  }
  const findings: ImportFinding[] = [];
  const entries = Object.entries(lock.Packages).map(([name, p]) => ({ name: typeof p.Package === "string" ? p.Package : name, ...p }));

  // renv manages a project library; on Lambda the layers are the library.
  const tooling = entries.filter((e) => e.name === "renv");
  if (tooling.length) findings.push({ outcome: "not-needed", key: "Packages.renv", detail: "renv manages a project's library; on Lambda the layers are the library" });

  // A layer installs from one CRAN-like repository: packages from GitHub, Bioconductor or a local source cannot come with it.
  const elsewhere = entries.filter((e) => e.name !== "renv" && typeof e.Source === "string" && e.Source !== "Repository");
  for (const e of elsewhere) {
    const remote = typeof e.RemoteUsername === "string" && typeof e.RemoteRepo === "string" ? ` ${e.RemoteUsername}/${e.RemoteRepo}` : "";
    findings.push({ outcome: "not-mapped", key: `Packages.${e.name}`, detail: `installed from ${String(e.Source)}${remote}: a layer installs from its CRAN-like repository only` });
  }
  const candidates = entries.filter((e) => e.name !== "renv" && !elsewhere.includes(e));

  // The packages nothing else in the lock requires, when the lock says what requires what.
  const recorded = entries.some((e) => Array.isArray(e.Requirements));
  const required = new Set(entries.flatMap((e) => strings(e.Requirements)));
  const roots = recorded ? candidates.filter((e) => !required.has(e.name)) : candidates;
  const packages = installable(roots.map((e) => e.name).sort(), "Packages", findings);
  const dependencies = candidates.length - roots.length;
  findings.push({
    outcome: "mapped",
    key: "Packages",
    detail: `packages: ${packages.join(", ")}${dependencies > 0 ? ` (the ${dependencies} other packages in the lock are their dependencies, installed with them)` : ""}`,
  });
  const versioned = candidates.filter((e) => typeof e.Version === "string").length;
  if (versioned) {
    findings.push({
      outcome: "note",
      key: "Packages.*.Version",
      detail: `the ${versioned} versions renv.lock pins are not copied: a layer installs what its repository snapshot has (npm run lock records the versions)`,
    });
  }

  let repository: string | undefined;
  const repositories = Array.isArray(lock.R?.Repositories) ? (lock.R.Repositories as { Name?: unknown; URL?: unknown }[]) : [];
  const urls = repositories.filter((r) => typeof r.URL === "string");
  const cran = urls.find((r) => r.Name === "CRAN") ?? urls[0];
  if (cran) repository = repositoryFinding(cran.URL as string, `R.Repositories.${typeof cran.Name === "string" ? cran.Name : "0"}`, context.defaultRepository, findings);
  for (const other of urls.filter((r) => r !== cran)) {
    findings.push({ outcome: "not-mapped", key: `R.Repositories.${String(other.Name)}`, detail: `${String(other.URL)}: a layer installs from one repository` });
  }
  if (typeof lock.R?.Version === "string") rVersionFinding(lock.R.Version, "R.Version", context.rVersions, findings);

  return {
    format: "renv",
    layerName: "imported",
    packages,
    layer: { description: `imported from ${context.file.replace(/^.*[/\\]/, "")}`, ...(repository ? { repository } : {}) },
    findings,
  };
}
