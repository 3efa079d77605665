/**
 * A small CRAN-like repository made on the spot, for building real layers in tests: package
 * sources written here, built with `R CMD build`, indexed with `tools::write_PACKAGES`.
 *
 * The packages:
 * - chainA imports chainB, which imports chainC (a dependency chain);
 * - basepkg (what a stacked base layer provides);
 * - lzhdrs, headers only, needed at compile time (LinkingTo) by yamlz;
 * - yamlz, C code linking libyaml (which R does not load, so it must be bundled) and zlib
 *   (which R itself loads, so it is provided by the R build and must not be);
 * - broken, C code that does not compile;
 * - rtpkg, C code linking nothing but R (for building against a freshly compiled R);
 * - rjson, a stand-in for CRAN's rjson, which the runtime uses to decode events: its source
 *   cannot be fetched here (no network), so a small base-R parser with the same entry point
 *   (`fromJSON(json_str)`, arrays of scalars as vectors) takes its place in the slow test.
 */
import { execFile } from "node:child_process";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";

const exec = promisify(execFile);

interface PackageSource {
  readonly name: string;
  readonly version?: string;
  readonly imports?: readonly string[];
  readonly linkingTo?: readonly string[];
  readonly namespace: string;
  readonly files: Readonly<Record<string, string>>;
}

function description(p: PackageSource): string {
  const lines = [
    `Package: ${p.name}`,
    `Version: ${p.version ?? "1.0.0"}`,
    `Title: Test Package ${p.name}`,
    `Description: A package made by the r-lambda-layers tests.`,
    `Authors@R: person("Test", "Author", email = "test@example.org", role = c("aut", "cre"))`,
    `License: MIT + file LICENSE`,
    `Encoding: UTF-8`,
  ];
  if (p.imports?.length) lines.push(`Imports: ${p.imports.join(", ")}`);
  if (p.linkingTo?.length) lines.push(`LinkingTo: ${p.linkingTo.join(", ")}`);
  return `${lines.join("\n")}\n`;
}

const REGISTER = (pkg: string, fns: readonly string[]): string => `
#include <R.h>
#include <Rinternals.h>
#include <R_ext/Rdynload.h>
${fns.map((f) => `SEXP ${f}(void);`).join("\n")}
static const R_CallMethodDef calls[] = {
${fns.map((f) => `  {"C_${f}", (DL_FUNC) &${f}, 0},`).join("\n")}
  {NULL, NULL, 0}
};
void R_init_${pkg}(DllInfo *dll) {
  R_registerRoutines(dll, NULL, calls, NULL, NULL);
  R_useDynamicSymbols(dll, FALSE);
}
`;

export const PACKAGES: readonly PackageSource[] = [
  {
    name: "chainC",
    namespace: "export(c_value)\n",
    files: { "R/c.R": 'c_value <- function() "C"\n' },
  },
  {
    name: "chainB",
    imports: ["chainC"],
    namespace: "export(b_value)\nimportFrom(chainC, c_value)\n",
    files: { "R/b.R": 'b_value <- function() paste0("B", c_value())\n' },
  },
  {
    name: "chainA",
    imports: ["chainB"],
    namespace: "export(a_value)\nimportFrom(chainB, b_value)\n",
    files: { "R/a.R": 'a_value <- function() paste0("A", b_value())\n' },
  },
  {
    name: "basepkg",
    namespace: "export(base_value)\n",
    files: { "R/base.R": 'base_value <- function() "base"\n' },
  },
  {
    name: "lzhdrs",
    namespace: "",
    files: { "inst/include/lzhdrs.h": '#define LZHDRS_GREETING "from a LinkingTo header"\n', "R/empty.R": "NULL\n" },
  },
  {
    name: "yamlz",
    linkingTo: ["lzhdrs"],
    namespace: "useDynLib(yamlz, .registration = TRUE)\nexport(yaml_version, zlib_version, greeting)\n",
    files: {
      "R/yamlz.R": [
        "yaml_version <- function() .Call(C_yz_yaml)",
        "zlib_version <- function() .Call(C_yz_zlib)",
        "greeting <- function() .Call(C_yz_greeting)",
        "",
      ].join("\n"),
      "src/yamlz.c": `#include <yaml.h>
#include <zlib.h>
#include <lzhdrs.h>
${REGISTER("yamlz", ["yz_yaml", "yz_zlib", "yz_greeting"])}
SEXP yz_yaml(void) { return mkString(yaml_get_version_string()); }
SEXP yz_zlib(void) { return mkString(zlibVersion()); }
SEXP yz_greeting(void) { return mkString(LZHDRS_GREETING); }
`,
      "src/Makevars": "PKG_LIBS = -lyaml -lz\n",
    },
  },
  {
    name: "broken",
    namespace: "useDynLib(broken, .registration = TRUE)\n",
    files: { "src/broken.c": "this is not C; /* the build must fail and show this */\n", "R/b.R": "NULL\n" },
  },
  {
    name: "rtpkg",
    namespace: "useDynLib(rtpkg, .registration = TRUE)\nexport(twice)\n",
    files: {
      "R/twice.R": "twice <- function(x) .Call(C_twice, as.numeric(x))\n",
      "src/twice.c": `#include <R.h>
#include <Rinternals.h>
#include <R_ext/Rdynload.h>
static SEXP twice(SEXP x) {
  SEXP out = PROTECT(allocVector(REALSXP, XLENGTH(x)));
  for (R_xlen_t i = 0; i < XLENGTH(x); i++) REAL(out)[i] = 2 * REAL(x)[i];
  UNPROTECT(1);
  return out;
}
static const R_CallMethodDef calls[] = {{"C_twice", (DL_FUNC) &twice, 1}, {NULL, NULL, 0}};
void R_init_rtpkg(DllInfo *dll) { R_registerRoutines(dll, NULL, calls, NULL, NULL); R_useDynamicSymbols(dll, FALSE); }
`,
    },
  },
  {
    name: "rjson",
    version: "0.0.1",
    namespace: "export(fromJSON)\n",
    files: {
      "R/fromJSON.R": String.raw`fromJSON <- function(json_str, ...) {
  s <- json_str
  pos <- 1L
  n <- nchar(s)
  at <- function() substr(s, pos, pos)
  ws <- function() while (pos <= n && at() %in% c(" ", "\t", "\n", "\r")) pos <<- pos + 1L
  value <- function() {
    ws()
    ch <- at()
    if (ch == "{" || ch == "[") {
      close <- if (ch == "{") "}" else "]"
      pos <<- pos + 1L
      out <- list()
      ws()
      if (at() == close) { pos <<- pos + 1L; return(out) }
      repeat {
        if (close == "}") {
          key <- value(); ws(); pos <<- pos + 1L
          out[key] <- list(value())
        } else {
          out[length(out) + 1L] <- list(value())
        }
        ws()
        ch <- at()
        pos <<- pos + 1L
        if (ch == close) break
      }
      if (close == "]" && length(out) && all(vapply(out, function(v) is.atomic(v) && length(v) == 1L, TRUE))) {
        return(unlist(out))
      }
      return(out)
    }
    if (ch == "\"") {
      end <- regexpr("\"", substring(s, pos + 1L), fixed = TRUE)
      v <- substr(s, pos + 1L, pos + end - 1L)
      pos <<- pos + end + 1L
      return(v)
    }
    token <- regmatches(substring(s, pos), regexpr("^(true|false|null|-?[0-9.eE+-]+)", substring(s, pos)))
    if (!length(token)) stop("unexpected JSON at position ", pos)
    pos <<- pos + nchar(token)
    switch(token, true = TRUE, false = FALSE, null = NULL, as.numeric(token))
  }
  value()
}
`,
    },
  },
];

/**
 * Writes the package sources under `root/sources`, builds the tarballs into
 * `root/repo/src/contrib` and indexes them. Returns the repository's file:// URL.
 */
export async function makeCranRepo(root: string, rscript = "Rscript", r = "R"): Promise<string> {
  const sources = join(root, "sources");
  const contrib = join(root, "repo", "src", "contrib");
  await mkdir(contrib, { recursive: true });
  for (const p of PACKAGES) {
    const dir = join(sources, p.name);
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, "DESCRIPTION"), description(p));
    await writeFile(join(dir, "LICENSE"), "YEAR: 2024\nCOPYRIGHT HOLDER: r-lambda-layers tests\n");
    await writeFile(join(dir, "NAMESPACE"), p.namespace);
    for (const [file, text] of Object.entries(p.files)) {
      await mkdir(join(dir, file, ".."), { recursive: true });
      await writeFile(join(dir, file), text);
    }
  }
  const env = { ...process.env, R_LIBS_USER: join(root, "none"), R_LIBS_SITE: join(root, "none") };
  await exec(r, ["CMD", "build", "--no-build-vignettes", "--no-manual", ...PACKAGES.map((p) => join(sources, p.name))], {
    cwd: contrib,
    env,
  });
  await exec(rscript, ["--vanilla", "-e", `tools::write_PACKAGES(${JSON.stringify(contrib)}, type = "source")`], { env });
  return `file://${join(root, "repo")}`;
}
