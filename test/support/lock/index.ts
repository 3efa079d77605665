/**
 * Synthetic CRAN-like repositories for resolution tests: a PACKAGES index per dated snapshot,
 * written under `<root>/<date>/src/contrib/PACKAGES` (no tarballs: resolution reads the index only).
 */
import { createHash } from "node:crypto";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";

export interface FakePackage {
  readonly name: string;
  readonly version: string;
  readonly depends?: string;
  readonly imports?: string;
  readonly linkingTo?: string;
  readonly suggests?: string;
}

export const md5Of = (p: FakePackage) => createHash("md5").update(`${p.name} ${p.version}`).digest("hex");

export function packagesText(packages: readonly FakePackage[]): string {
  return packages
    .map((p) =>
      [
        `Package: ${p.name}`,
        `Version: ${p.version}`,
        ...(p.depends ? [`Depends: ${p.depends}`] : []),
        ...(p.imports ? [`Imports: ${p.imports}`] : []),
        ...(p.linkingTo ? [`LinkingTo: ${p.linkingTo}`] : []),
        ...(p.suggests ? [`Suggests: ${p.suggests}`] : []),
        "License: GPL-2",
        `MD5sum: ${md5Of(p)}`,
        "NeedsCompilation: no",
      ].join("\n"),
    )
    .join("\n\n")
    .concat("\n");
}

export async function writeSnapshot(root: string, date: string, packages: readonly FakePackage[]): Promise<string> {
  const contrib = join(root, date, "src", "contrib");
  await mkdir(contrib, { recursive: true });
  await writeFile(join(contrib, "PACKAGES"), packagesText(packages));
  return date;
}

/** A small world: a chain, a LinkingTo header package, a stacked base, an R-version constraint. */
export const WORLD: readonly FakePackage[] = [
  { name: "jsonlite", version: "1.8.9", depends: "methods" },
  { name: "rjson", version: "0.2.23", depends: "R (>= 4.0.0)" },
  { name: "survival", version: "3.7-0", depends: "R (>= 3.5.0)", imports: "graphics, Matrix, methods, splines, stats, utils" },
  { name: "Matrix", version: "1.7-1", depends: "R (>= 4.4.0), methods", imports: "grDevices, graphics, grid, lattice, stats, utils" },
  { name: "lattice", version: "0.22-6", depends: "R (>= 4.0.0)", imports: "grid, grDevices, graphics, stats, utils" },
  { name: "gbm", version: "2.1.8", depends: "R (>= 2.9.0)", imports: "lattice, parallel, survival", suggests: "knitr, pdp" },
  { name: "Rcpp", version: "1.0.13" },
  { name: "RcppArmadillo", version: "14.0.2-1", depends: "R (>= 3.3.0)", imports: "Rcpp (>= 1.0.8), stats, utils, methods", linkingTo: "Rcpp" },
  { name: "data.table", version: "1.16.2", depends: "R (>= 3.3.0)", imports: "methods" },
  { name: "needsnew", version: "1.0", depends: "R (>= 9.9.0)" },
  { name: "knitr", version: "1.48" },
];
