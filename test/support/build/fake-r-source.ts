/**
 * A fake R source tarball for exercising r-compile/r/build-r.sh in seconds: its `configure`
 * does nothing and its Makefile "builds" a tiny R tree the way R's does the parts that carry
 * time stamps, so the script's reproducibility steps run for real:
 * - base packages' DESCRIPTION get `Built: R <version>; ...; $(PKG_BUILT_STAMP); unix` (or the
 *   clock's time, with `stamp: "clock"`), translations none;
 * - grDevices/afm/*.afm are gzipped by plain `gzip -9`, which records name and time (the .afm
 *   files get the time in $FAKE_AFM_TIME, `@seconds`);
 * - the methods "build" evaluates trace.R's prototype: `.POSIXct(N)` gives N, anything else the
 *   clock; the fake `R` reports it for the sourceEnvironment check;
 * - tools/Makefile.in and methods/R/trace.R hold the texts R 4.2 has (or `methodsText`).
 * `R/bin/R` is a shell script answering the two questions build-r.sh asks a built R.
 */
import { chmod, mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { exec } from "./layer.ts";

export interface FakeSourceOptions {
  readonly version: string;
  /** What base packages' Built: carries: PKG_BUILT_STAMP (default) or the clock's time. */
  readonly stamp?: "make" | "clock";
  /** The prototype line in methods/R/trace.R (default R 4.2's). */
  readonly methodsText?: string;
  /** The modification time of every file in the tarball, seconds since the epoch. */
  readonly mtime?: number;
}

const R_STUB = `#!/bin/sh
R_HOME_DIR=/opt/R/lib/R
case "$*" in
  *sourceEnvironment*) cat "\${R_HOME_DIR}/methods-date" ;;
  *R.version*) cat "\${R_HOME_DIR}/VERSION-SHORT" ;;
  *) echo "fake R: unexpected $*" >&2; exit 1 ;;
esac
`;

function makefile(version: string, stamp: "make" | "clock"): string {
  const built = stamp === "make" ? "$(PKG_BUILT_STAMP)" : "$$(TZ=UTC date '+%Y-%m-%d %H:%M:%S UTC')";
  const lines = [
    "all:",
    "\tmkdir -p build/library/base build/library/stats build/library/translations build/library/grDevices/afm",
    `\tprintf 'Package: base\\nBuilt: R ${version}; ; %s; unix\\n' "${built}" > build/library/base/DESCRIPTION`,
    `\tprintf 'Package: stats\\nBuilt: R ${version}; x86_64-pc-linux-gnu; %s; unix\\n' "${built}" > build/library/stats/DESCRIPTION`,
    "\tprintf 'Package: translations\\n' > build/library/translations/DESCRIPTION",
    "\tfor f in Courier Helvetica; do printf 'StartFontMetrics %s\\n' $$f > build/library/grDevices/afm/$$f.afm; touch -d \"$${FAKE_AFM_TIME:-@1000000000}\" build/library/grDevices/afm/$$f.afm; gzip -9f build/library/grDevices/afm/$$f.afm; done",
    "\tsed -n 's/.*dateCreated = \\.POSIXct(\\([0-9]*\\)).*/\\1/p' src/library/methods/R/trace.R > build/methods-date",
    "\ttest -s build/methods-date || date +%s.%N > build/methods-date",
    "",
    "install:",
    "\tmkdir -p $(DESTDIR)/opt/R/bin $(DESTDIR)/opt/R/lib/R/bin/exec $(DESTDIR)/opt/R/lib/R/etc",
    "\tcp -R build/library $(DESTDIR)/opt/R/lib/R/library",
    "\tcp build/methods-date $(DESTDIR)/opt/R/lib/R/methods-date",
    `\tprintf '${version}' > $(DESTDIR)/opt/R/lib/R/VERSION-SHORT`,
    "\tcp fake-R $(DESTDIR)/opt/R/bin/R && cp fake-R $(DESTDIR)/opt/R/lib/R/bin/R && cp fake-R $(DESTDIR)/opt/R/lib/R/bin/exec/R",
    "\tchmod 755 $(DESTDIR)/opt/R/bin/R $(DESTDIR)/opt/R/lib/R/bin/R $(DESTDIR)/opt/R/lib/R/bin/exec/R",
    "\tprintf 'R_LD_LIBRARY_PATH=$${R_HOME}/lib\\n' > $(DESTDIR)/opt/R/lib/R/etc/ldpaths",
    "",
  ];
  return lines.join("\n");
}

/** Writes the fake source under DIR and returns the path of its tarball. */
export async function makeFakeRSource(dir: string, options: FakeSourceOptions): Promise<string> {
  const top = `R-${options.version}`;
  const src = join(dir, top);
  await mkdir(join(src, "src", "library", "tools"), { recursive: true });
  await mkdir(join(src, "src", "library", "methods", "R"), { recursive: true });
  await writeFile(join(src, "VERSION"), `${options.version}\n`);
  await writeFile(join(src, "configure"), "#!/bin/sh\nexit 0\n");
  await chmod(join(src, "configure"), 0o755);
  await writeFile(join(src, "Makefile"), makefile(options.version, options.stamp ?? "make"));
  await writeFile(join(src, "fake-R"), R_STUB);
  await writeFile(
    join(src, "src", "library", "tools", "Makefile.in"),
    "all:\n\t@$(ECHO) \"tools:::.install_package_description('.', '\"$(top_builddir)/library/${pkg}\"')\" | \\\n\t  R_DEFAULT_PACKAGES=NULL $(R_EXE) > /dev/null\n",
  );
  await writeFile(
    join(src, "src", "library", "methods", "R", "trace.R"),
    `    setClass("sourceEnvironment", contains = "environment",\n             prototype = prototype( packageName = "", ${options.methodsText ?? "dateCreated = Sys.time()"}, sourceFile = ""))\n`,
  );
  const tarball = join(dir, `${top}.tar.gz`);
  const mtime = `@${options.mtime ?? 1668069900}`;
  await exec("tar", ["-czf", tarball, "--mtime", mtime, "--sort=name", "--owner=0", "--group=0", "-C", dir, top]);
  return tarball;
}
