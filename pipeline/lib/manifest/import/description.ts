/**
 * An R package's `DESCRIPTION`: its `Imports` and `Depends` become a layer (without R itself and
 * R's own packages). Version constraints are dropped and reported: a layer installs what its
 * repository snapshot has. `LinkingTo` and `Suggests` are reported, not imported.
 */
import { UsageError } from "../../errors.ts";
import { installable, layerNameFrom } from "./common.ts";
import type { ImportContext, ImportFinding, Imported } from "./types.ts";

export function looksLikeDescription(text: string): boolean {
  return /^Package:\s*\S/m.test(text) && /^(Imports|Depends):/m.test(text);
}

/** The fields of a Debian-control-format file; continuation lines start with white space. */
function fields(text: string): Map<string, string> {
  const out = new Map<string, string>();
  let current: string | undefined;
  for (const line of text.split(/\r?\n/)) {
    const field = /^([A-Za-z][A-Za-z0-9/@._-]*):(.*)$/.exec(line);
    if (field) {
      current = field[1] as string;
      out.set(current, (field[2] as string).trim());
    } else if (/^\s+\S/.test(line) && current !== undefined) {
      out.set(current, `${out.get(current) ?? ""} ${line.trim()}`.trim());
    }
  }
  return out;
}

/** `dplyr (>= 1.1.0), rlang` → names and the constraints written with them. */
function dependencies(value: string | undefined): { name: string; constraint?: string }[] {
  if (!value) return [];
  return value
    .split(",")
    .map((entry) => entry.trim())
    .filter((entry) => entry !== "")
    .map((entry) => {
      const m = /^([^\s(]+)\s*(?:\((.*)\))?$/.exec(entry);
      const constraint = m?.[2]?.trim();
      return { name: m?.[1] ?? entry, ...(constraint ? { constraint } : {}) };
    });
}

export function importDescription(text: string, context: ImportContext): Imported {
  const f = fields(text);
  const pkg = f.get("Package");
  if (!pkg || (!f.has("Imports") && !f.has("Depends"))) throw new UsageError(`${context.file} is not an R package DESCRIPTION with Imports or Depends`);
  const findings: ImportFinding[] = [];
  const deps = [...dependencies(f.get("Depends")), ...dependencies(f.get("Imports"))];

  const r = deps.filter((d) => d.name === "R");
  for (const d of r) {
    findings.push({
      outcome: "note",
      key: "Depends.R",
      detail: `R${d.constraint ? ` ${d.constraint}` : ""}: the layer is built for r.versions (${context.rVersions.join(", ")})`,
    });
  }
  const named = deps.filter((d) => d.name !== "R");
  const packages = installable(named.map((d) => d.name), "Imports/Depends", findings);
  findings.push({ outcome: "mapped", key: "Imports/Depends", detail: `packages: ${packages.join(", ")}` });
  const constrained = named.filter((d) => d.constraint);
  if (constrained.length) {
    findings.push({
      outcome: "note",
      key: "Imports/Depends",
      detail: `version constraints dropped: ${constrained.map((d) => `${d.name} (${d.constraint})`).join(", ")}; a layer installs what its repository snapshot has (check it with npm run lock)`,
    });
  }
  const linking = dependencies(f.get("LinkingTo")).map((d) => d.name);
  if (linking.length) findings.push({ outcome: "not-needed", key: "LinkingTo", detail: `${linking.join(", ")}: needed to compile ${pkg}, not to run it` });
  const suggests = dependencies(f.get("Suggests")).map((d) => d.name);
  if (suggests.length) {
    findings.push({ outcome: "not-mapped", key: "Suggests", detail: `${suggests.join(", ")}: optional; add those your functions use with npm run layers -- add` });
  }
  if (f.has("Remotes")) findings.push({ outcome: "not-mapped", key: "Remotes", detail: `${f.get("Remotes") ?? ""}: a layer installs from its CRAN-like repository only` });
  findings.push({ outcome: "not-mapped", key: "Package", detail: `${pkg} itself is not installed: the layer holds what it needs, not the package` });

  return {
    format: "description",
    layerName: layerNameFrom(pkg),
    packages,
    layer: { description: `the packages ${pkg} needs` },
    findings,
  };
}
