#!/usr/bin/env bash
# Compiles R from source for Lambda and stores the result as a deterministic zip.
#
# Inputs, all from the environment (see buildspecs/README.md):
#   BUILD_KEY, ARCH, R_VERSION, ARTIFACT_STORE, ARTIFACT_KEY, METADATA_KEY (keys from naming.ts)
#   R_SOURCE_URL      optional; default CRAN's src/base/R-<major>/R-<version>.tar.gz
#   R_SOURCE_SHA256   optional; checked when given (the computed digest is logged either way)
#   R_SOURCE_TARBALL  optional absolute path of a local tarball (offline or mirrored builds)
#   BUILD_RESULT_FILE optional absolute path: where to write the values the buildspec exports
#
# The zip holds R only, under R/: configured with --prefix=/opt/R --libdir=/opt/R/lib, so on
# Lambda R's home is /opt/R/lib/R and the shared libraries bundled for it are in /opt/R/lib.
# The `R` scripts find their home relative to themselves, so an unpacked copy runs anywhere.
# shellcheck source-path=SCRIPTDIR/../common
set -euo pipefail
COMMON_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/../common" && pwd)
LOG_TAG=r-compile
# shellcheck source=lib.sh
. "$COMMON_DIR/lib.sh"
# shellcheck source=artifact-store.sh
. "$COMMON_DIR/artifact-store.sh"
# shellcheck source=zip.sh
. "$COMMON_DIR/zip.sh"
# shellcheck source=bundle-libs.sh
. "$COMMON_DIR/bundle-libs.sh"

readonly PREFIX=/opt/R

# ---- inputs -------------------------------------------------------------------------------
require_env BUILD_KEY "$RE_BUILD_KEY" "64 lowercase hexadecimal digits"
require_env ARCH "$RE_ARCH" "x86_64 or arm64"
require_env R_VERSION "$RE_R_VERSION" "a version such as 4.4.1"
require_object_key ARTIFACT_KEY
require_metadata_key METADATA_KEY
optional_env R_SOURCE_URL "$RE_HTTP_URL" "an http(s) URL"
optional_env R_SOURCE_SHA256 "$RE_SHA256" "64 lowercase hexadecimal digits"
if [[ -n ${R_SOURCE_TARBALL-} ]]; then
  require_abs_path R_SOURCE_TARBALL
  [[ -f $R_SOURCE_TARBALL ]] || die "R_SOURCE_TARBALL: no such file: $R_SOURCE_TARBALL" 2
fi
if [[ -n ${BUILD_RESULT_FILE-} ]]; then require_abs_path BUILD_RESULT_FILE; fi
require_native_arch
store_init

r_major=${R_VERSION%%.*}
source_url=${R_SOURCE_URL:-https://cloud.r-project.org/src/base/R-$r_major/R-$R_VERSION.tar.gz}

need_cmd tar gzip sha256sum find awk
[[ -n ${R_SOURCE_TARBALL-} ]] || need_cmd curl

# A fixed path, so that paths R records while building are the same from one build to the next.
work=$(make_work_dir "r-$BUILD_KEY")
cleanup() {
  if [[ ${KEEP_WORK_DIR-} == 1 ]]; then log "work directory kept: $work"; else rm -rf -- "$work"; fi
}
trap cleanup EXIT
# A cancelled build (the local runner stops its process group) still removes its work folder.
trap 'exit 130' INT
trap 'exit 143' TERM
log "R $R_VERSION for $ARCH, build key $BUILD_KEY, work directory $work"

# ---- source -------------------------------------------------------------------------------
tarball=$work/R-source.tar.gz
if [[ -n ${R_SOURCE_TARBALL-} ]]; then
  log "source: $R_SOURCE_TARBALL"
  cp -- "$R_SOURCE_TARBALL" "$tarball"
else
  log "source: $source_url"
  curl -fsSL --retry 3 -o "$tarball" -- "$source_url" || die "cannot download $source_url"
fi
actual_sha=$(sha256_of "$tarball")
if [[ -n ${R_SOURCE_SHA256-} ]]; then
  [[ $actual_sha == "$R_SOURCE_SHA256" ]] ||
    die "checksum mismatch for the R source: expected $R_SOURCE_SHA256, got $actual_sha"
  log "source checksum verified: $actual_sha"
else
  log "source checksum (not verified: no R_SOURCE_SHA256 given): $actual_sha"
fi

src=$work/src
mkdir -p "$src"
tar -xzf "$tarball" -C "$src" --strip-components=1 --no-same-owner || die "cannot unpack the R source tarball"
[[ -f $src/VERSION && -x $src/configure ]] || die "the tarball does not look like R's source (no VERSION or configure)"
read -r source_version _ <"$src/VERSION"
[[ $source_version == "$R_VERSION" ]] ||
  die "the source is R $source_version, not R $R_VERSION as R_VERSION says"

# ---- one fixed time for everything the build stamps -----------------------------------------
# The newest modification time in the source tarball: the same tarball gives the same time,
# whenever and wherever it is built. SOURCE_DATE_EPOCH (reproducible-builds.org) is honoured by
# the compilers (__DATE__, __TIME__); R 4.x does not read it, but its base packages take their
# `Built:` time from PKG_BUILT_STAMP (share/make/basepkg.mk), which also ends up in
# Meta/package.rds. A value from the environment is ignored: it is not part of the build key.
source_epoch=$(find "$src" -type f -printf '%T@\n' | LC_ALL=C sort -n | tail -n 1)
source_epoch=${source_epoch%%.*}
[[ $source_epoch =~ ^[0-9]+$ ]] || die "cannot tell the time of the R source from its files"
export SOURCE_DATE_EPOCH=$source_epoch
built_stamp=$(TZ=UTC date -d "@$source_epoch" '+%Y-%m-%d %H:%M:%S UTC')
log "build time stamp (the newest file in the source): $built_stamp (SOURCE_DATE_EPOCH=$source_epoch)"

# replace_literal FILE OLD NEW: replaces every occurrence of the string OLD (no patterns) and
# prints how many there were.
replace_literal() {
  local file=$1 count
  [[ -f $file ]] || { echo 0; return 0; }
  count=$(OLD=$2 NEW=$3 awk '
    BEGIN { old = ENVIRON["OLD"]; new = ENVIRON["NEW"]; n = 0 }
    { line = $0; out = ""
      while ((i = index(line, old)) > 0) { out = out substr(line, 1, i - 1) new; line = substr(line, i + length(old)); n++ }
      print out line > FILENAME ".new" }
    END { print n }' "$file") || die "cannot edit $file"
  mv -f -- "$file.new" "$file"
  printf '%s\n' "$count"
}
# Two places in R's own sources take the clock instead (R 4.2; absent elsewhere, nothing to do):
# - tools' Makefile re-installs tools/DESCRIPTION without PKG_BUILT_STAMP;
# - methods defines class sourceEnvironment with prototype dateCreated = Sys.time(), evaluated
#   while the methods lazy-load database is made: the build time lands in methods.rdb/.rdx.
# shellcheck disable=SC2016 # make and R code, literally
n=$(replace_literal "$src/src/library/tools/Makefile.in" \
  "tools:::.install_package_description('.', '\"\$(top_builddir)/library/\${pkg}\"')" \
  "tools:::.install_package_description('.', '\"\$(top_builddir)/library/\${pkg}\"', '\$(PKG_BUILT_STAMP)')")
log "tools/Makefile.in: $n call(s) given PKG_BUILT_STAMP"
n=$(replace_literal "$src/src/library/methods/R/trace.R" "dateCreated = Sys.time()" "dateCreated = .POSIXct($source_epoch)")
log "methods/R/trace.R: $n Sys.time() prototype(s) fixed to the source time"

# ---- configure, build, install ------------------------------------------------------------
need_cmd gcc g++ gfortran make zip ldd strip
configure_args=(
  --prefix="$PREFIX" --libdir="$PREFIX/lib"
  --enable-R-shlib --enable-memory-profiling=no
  --with-recommended-packages=no
  --with-x=no --with-readline=no --with-tcltk=no --with-cairo=no
  --with-libpng=no --with-jpeglib=no --with-libtiff=no --with-ICU=no
  --disable-java --disable-nls --disable-rpath
)
log "configure ${configure_args[*]}"
(
  cd "$src"
  CFLAGS='-O2' CXXFLAGS='-O2' FFLAGS='-O2' FCFLAGS='-O2' ./configure "${configure_args[@]}"
) || die "R's configure failed (see its output above)"
jobs=$(cpu_count)
log "make -j$jobs"
make -C "$src" -j"$jobs" PKG_BUILT_STAMP="$built_stamp" || die "compiling R failed (see the compiler output above)"
stage=$work/stage
make -C "$src" install DESTDIR="$stage" PKG_BUILT_STAMP="$built_stamp" || die "make install failed"

root=$work/zip-root
mkdir -p "$root"
mv -- "$stage$PREFIX" "$root/R"
rhome=$root/R/lib/R
[[ -x $rhome/bin/exec/R ]] || die "make install left no $rhome/bin/exec/R"

# ---- trim what a server never uses ------------------------------------------------------
log "removing documentation, help pages, tests and static libraries"
find "$rhome/doc" -mindepth 1 ! -name COPYING -exec rm -rf -- {} + 2>/dev/null || true
rm -rf -- "$root/R/share/man" "$root/R/lib/pkgconfig" "$rhome/share/texmf"
for dir in html help doc tests demo po; do
  find "$rhome/library" -mindepth 2 -maxdepth 2 -type d -name "$dir" -exec rm -rf -- {} +
done
find "$root/R" -name '*.a' -type f -delete

# ---- the same bytes from the same source ------------------------------------------------
# Every base package stamped `Built:` must carry the fixed build time (translations has no such
# field): an R whose build ignores PKG_BUILT_STAMP would otherwise give different bytes on
# every build without anyone noticing.
while IFS= read -r description; do
  built=$(grep '^Built:' "$description") || continue
  [[ $built == "Built: R $R_VERSION; "*"; $built_stamp; "* ]] ||
    die "${description#"$root"/} does not carry the fixed build time $built_stamp: $built"
done < <(find "$rhome/library" -mindepth 2 -maxdepth 2 -name DESCRIPTION)
# gzip records the name and modification time of what it compressed (grDevices/afm/*.gz):
# recompress without them (-n), at the same level R uses (-9).
while IFS= read -r -d '' gz; do
  gzip -dc -- "$gz" | gzip -9 -n -c >"$gz.tmp" || die "cannot recompress ${gz#"$root"/}"
  mv -f -- "$gz.tmp" "$gz"
done < <(find "$root" -type f -name '*.gz' -print0)

# ---- make the installation relocatable ----------------------------------------------------
# `R` finds its home from its own location, and libraries bundled into R/lib are on the path.
relocate_script() {
  local script=$1 tmp=$1.tmp
  awk '
    /^R_HOME_DIR=/ && !done {
      print "R_HOME_DIR=$(cd \"$(dirname \"$(readlink -f \"$0\")\")/..\" && pwd -P)"
      print "if test -x \"${R_HOME_DIR}/lib/R/bin/exec/R\"; then R_HOME_DIR=\"${R_HOME_DIR}/lib/R\"; fi"
      done = 1; next
    }
    /^R_(SHARE|INCLUDE|DOC)_DIR=\/opt\/R\/lib\/R\// {
      split($0, kv, "="); n = split(kv[2], parts, "/")
      print kv[1] "=\"${R_HOME_DIR}/" parts[n] "\""; next
    }
    { print }
    END { if (!done) exit 1 }' "$script" >"$tmp" || die "no R_HOME_DIR line to patch in $script"
  cat -- "$tmp" >"$script"
  rm -f -- "$tmp"
}
relocate_script "$root/R/bin/R"
relocate_script "$rhome/bin/R"
ldpaths=$rhome/etc/ldpaths
# shellcheck disable=SC2016 # literal ${R_HOME}, for R's own shell script
grep -q 'R_LD_LIBRARY_PATH=\${R_HOME}/lib' "$ldpaths" || die "unexpected $ldpaths: no R_LD_LIBRARY_PATH line"
# shellcheck disable=SC2016
sed -i 's|R_LD_LIBRARY_PATH=\${R_HOME}/lib|R_LD_LIBRARY_PATH=${R_HOME}/lib:${R_HOME}/..|' "$ldpaths"

# ---- bundle shared libraries the Lambda image lacks ------------------------------------
load_provided_list
provide_files_in "$rhome/lib"
mapfile -t elves < <(elf_files "$root/R")
LD_LIBRARY_PATH="$rhome/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" bundle_dependencies "$root/R/lib" "${elves[@]}"
strip_tree "$root/R"

# ---- check it runs --------------------------------------------------------------------
# shellcheck disable=SC2016 # R code
reported=$(env -u R_HOME -u R_LIBS -u R_LIBS_USER -u R_LIBS_SITE "$root/R/bin/R" --vanilla -s \
  -e 'cat(paste(R.version$major, R.version$minor, sep = "."))') || die "the built R does not start"
[[ $reported == "$R_VERSION" ]] || die "the built R reports version $(shown "$reported"), not $R_VERSION"
log "the built R starts and reports $reported"
# shellcheck disable=SC2016 # R code
created=$(env -u R_HOME -u R_LIBS -u R_LIBS_USER -u R_LIBS_SITE "$root/R/bin/R" --vanilla -s -e '
  cd <- methods::getClassDef("sourceEnvironment")
  if (!is.null(cd)) cat(format(unclass(attr(attr(cd, "prototype"), "dateCreated")), scientific = FALSE))') ||
  die "the built R cannot show its methods class sourceEnvironment"
[[ -z $created || $created == "$source_epoch" ]] ||
  die "methods was built with the clock's time ($created), not the source's ($source_epoch): its lazy-load database would differ on every build"

# ---- zip, metadata, store -----------------------------------------------------------------
out=$work/out
mkdir -p "$out"
unzipped=$(tree_size "$root")
count=$(tree_count "$root")
check_stack_size "$unzipped" 0
deterministic_zip "$root" "$out/artifact.zip"
zip_sha=$(sha256_of "$out/artifact.zip")
zip_size=$(file_size "$out/artifact.zip")

bundled_json=$(printf '%s\n' "${BUNDLED[@]}" | LC_ALL=C sort | awk 'NF { printf "%s\"%s\"", (n++ ? ", " : ""), $0 }')
{
  printf '{\n'
  printf '  "kind": "r",\n'
  printf '  "buildKey": %s,\n' "$(json_str "$BUILD_KEY")"
  printf '  "rVersion": %s,\n' "$(json_str "$R_VERSION")"
  printf '  "arch": %s,\n' "$(json_str "$ARCH")"
  printf '  "sha256": %s,\n' "$(json_str "$zip_sha")"
  printf '  "zippedSize": %s,\n' "$zip_size"
  printf '  "unzippedSize": %s,\n' "$unzipped"
  printf '  "fileCount": %s,\n' "$count"
  printf '  "sourceSha256": %s,\n' "$(json_str "$actual_sha")"
  printf '  "rHome": "/opt/R/lib/R",\n'
  printf '  "bundledLibraries": [%s]\n' "$bundled_json"
  printf '}\n'
} >"$out/metadata.json"

store_put "$out/artifact.zip" "$ARTIFACT_KEY"
store_put "$out/metadata.json" "$METADATA_KEY"
if [[ -n ${BUILD_RESULT_FILE-} ]]; then write_result "$BUILD_RESULT_FILE" "$zip_sha" "$zip_size" "$unzipped"; fi
log "done: R $R_VERSION ($ARCH), $zip_size bytes zipped, $unzipped bytes unzipped, sha256 $zip_sha"
