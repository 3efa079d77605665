/**
 * A CRAN-like repository's `src/contrib/PACKAGES` index (Debian control format, the file
 * `available.packages()` reads), parsed into what resolution needs: each package's version, its
 * hard dependencies (`Depends`, `Imports`, `LinkingTo`; never `Suggests`), the R version it
 * requires and the checksum the repository publishes for its source tarball.
 */
import { compareVersions } from "./versions.ts";
import type { Constraint, Operator } from "./versions.ts";

export interface IndexedPackage {
  readonly name: string;
  readonly version: string;
  /** Package names from Depends, Imports and LinkingTo (not R itself), sorted, without repeats. */
  readonly requires: readonly string[];
  /** Version constraints on other packages, by name (checked when a locked version is kept). */
  readonly constraints: ReadonlyMap<string, readonly Constraint[]>;
  /** `Depends: R (>= x)` and the like. */
  readonly rConstraints: readonly Constraint[];
  /** `sha256:<hex>` when the index publishes one, else `md5:<hex>`; undefined when it publishes neither. */
  readonly checksum?: string;
}

export type PackagesIndex = ReadonlyMap<string, IndexedPackage>;

const DEP_FIELDS = new Set(["Depends", "Imports", "LinkingTo"]);
const KEPT = new Set(["Package", "Version", "Depends", "Imports", "LinkingTo", "MD5sum", "SHA256sum", "SHA256"]);
const ENTRY = /^\s*([A-Za-z][A-Za-z0-9.]*)\s*(?:\(\s*(>=|<=|==|!=|>|<)\s*([0-9][0-9.-]*)\s*\))?\s*$/;

function parseRecord(fields: Map<string, string>): IndexedPackage | undefined {
  const name = fields.get("Package");
  const version = fields.get("Version");
  if (!name || !version) return undefined;
  const requires = new Set<string>();
  const constraints = new Map<string, Constraint[]>();
  const rConstraints: Constraint[] = [];
  for (const field of DEP_FIELDS) {
    const value = fields.get(field);
    if (!value) continue;
    for (const item of value.split(",")) {
      if (item.trim() === "") continue;
      const m = ENTRY.exec(item);
      if (!m) continue;
      const dep = m[1] as string;
      const c = m[2] ? { op: m[2] as Operator, version: m[3] as string } : undefined;
      if (dep === "R") {
        if (c) rConstraints.push(c);
        continue;
      }
      requires.add(dep);
      if (c) constraints.set(dep, [...(constraints.get(dep) ?? []), c]);
    }
  }
  const sha = fields.get("SHA256sum") ?? fields.get("SHA256");
  const md5 = fields.get("MD5sum");
  const checksum = sha && /^[0-9a-fA-F]{64}$/.test(sha) ? `sha256:${sha.toLowerCase()}` : md5 && /^[0-9a-fA-F]{32}$/.test(md5) ? `md5:${md5.toLowerCase()}` : undefined;
  return {
    name,
    version,
    requires: [...requires].sort(),
    constraints,
    rConstraints,
    ...(checksum ? { checksum } : {}),
  };
}

/**
 * Parses a PACKAGES file. When a package appears more than once (some repositories list several
 * builds), the highest version wins, as in `available.packages()`.
 */
export function parsePackagesIndex(text: string): Map<string, IndexedPackage> {
  const index = new Map<string, IndexedPackage>();
  let fields = new Map<string, string>();
  let current: string | undefined;
  const flush = () => {
    const pkg = parseRecord(fields);
    if (pkg) {
      const seen = index.get(pkg.name);
      if (!seen || compareVersions(pkg.version, seen.version) > 0) index.set(pkg.name, pkg);
    }
    fields = new Map();
    current = undefined;
  };
  let start = 0;
  const n = text.length;
  while (start <= n) {
    let end = text.indexOf("\n", start);
    if (end === -1) end = n;
    let line = text.slice(start, end);
    start = end + 1;
    if (line.endsWith("\r")) line = line.slice(0, -1);
    if (line.trim() === "") {
      if (fields.size) flush();
      if (end === n) break;
      continue;
    }
    const first = line.charCodeAt(0);
    if (first === 32 || first === 9) {
      if (current !== undefined) fields.set(current, `${fields.get(current) ?? ""} ${line.trim()}`);
      continue;
    }
    const colon = line.indexOf(":");
    if (colon <= 0) continue;
    const key = line.slice(0, colon);
    if (KEPT.has(key)) {
      current = key;
      fields.set(key, line.slice(colon + 1).trim());
    } else {
      current = undefined;
    }
    if (end === n) break;
  }
  if (fields.size) flush();
  return index;
}
