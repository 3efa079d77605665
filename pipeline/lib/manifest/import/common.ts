/** What the importers share: package-name checks, base packages, layer names, repositories, R versions. */
import { BASE_PACKAGES } from "../resolve.ts";
import type { ImportFinding } from "./types.ts";

const PACKAGE_NAME = /^[A-Za-z][A-Za-z0-9.]*[A-Za-z0-9]$/;
const LAYER_NAME = /^[a-z0-9]+(-[a-z0-9]+)*$/;
export const REGION = /^[a-z]{2}(-gov|-iso[a-z]?)?-(north|south|east|west|central|northeast|northwest|southeast|southwest)-[1-9]$/;

/**
 * The installable packages among `names`: R's own packages and names R would refuse are left
 * out, each with a finding. Order kept, repeats dropped.
 */
export function installable(names: readonly string[], key: string, findings: ImportFinding[]): string[] {
  const base = names.filter((n) => BASE_PACKAGES.has(n));
  const bad = names.filter((n) => !BASE_PACKAGES.has(n) && !PACKAGE_NAME.test(n));
  if (base.length) findings.push({ outcome: "not-needed", key, detail: `${[...new Set(base)].join(", ")}: part of R itself, in every runtime layer` });
  if (bad.length) findings.push({ outcome: "not-mapped", key, detail: `${bad.map((b) => JSON.stringify(b)).join(", ")}: not R package names` });
  return [...new Set(names.filter((n) => !BASE_PACKAGES.has(n) && PACKAGE_NAME.test(n)))];
}

/** A layer name from any string: lowercase words joined by single hyphens, or the fallback. */
export function layerNameFrom(value: string | undefined, fallback = "imported"): string {
  const name = (value ?? "").toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-+|-+$/g, "");
  return LAYER_NAME.test(name) ? name : fallback;
}

/**
 * A repository URL as a layer's `repository`, when it is a dated snapshot. Posit Package Manager's
 * binary URLs (`…/cran/__linux__/jammy/2024-11-01`) serve Ubuntu builds; a layer compiles from
 * source on Amazon Linux, so the source URL of the same snapshot is taken.
 */
export function snapshotRepository(url: string): { repository: string; from?: string } | undefined {
  const trimmed = url.replace(/\/+$/, "");
  if (!/\/\d{4}-\d{2}-\d{2}$/.test(trimmed)) return undefined;
  const source = trimmed.replace(/\/__linux__\/[^/]+(?=\/\d{4}-\d{2}-\d{2}$)/, "");
  return source === trimmed ? { repository: source } : { repository: source, from: trimmed };
}

/** The finding for the repository a file names, and the layer's `repository` when it needs one. */
export function repositoryFinding(url: string, key: string, defaultRepository: string | undefined, findings: ImportFinding[]): string | undefined {
  const snapshot = snapshotRepository(url);
  if (!snapshot) {
    findings.push({
      outcome: "not-mapped",
      key,
      detail: `${url} is not a dated snapshot, so it would not pin what a build installs; the layer uses ${defaultRepository ? `defaults.repository (${defaultRepository})` : "the manifest's repository"}`,
    });
    return undefined;
  }
  const source = snapshot.from ? ` (the source packages of ${snapshot.from}, which serves Ubuntu binaries)` : "";
  if (defaultRepository !== undefined && defaultRepository.replace(/\/+$/, "") === snapshot.repository) {
    findings.push({ outcome: "not-needed", key, detail: `${snapshot.repository}${source} is already defaults.repository` });
    return undefined;
  }
  findings.push({ outcome: "mapped", key, detail: `repository: ${snapshot.repository}${source}` });
  return snapshot.repository;
}

/** A note on the R version a file was made with, against the versions the manifest builds. */
export function rVersionFinding(version: string, key: string, declared: readonly string[], findings: ImportFinding[]): void {
  const built = declared.join(", ");
  if (declared.includes(version)) {
    findings.push({ outcome: "note", key, detail: `R ${version}: the layer is built for every declared R version (${built}), this one included` });
  } else {
    findings.push({ outcome: "not-mapped", key, detail: `R ${version} is not under r.versions (${built}): the layer is built for those; add ${version} there to build for it too` });
  }
}
