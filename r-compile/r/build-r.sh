#!/usr/bin/env bash
# Compiles R from source for Lambda and stores the result as a deterministic zip.
#
# Inputs, all from the environment (see buildspecs/README.md):
#   BUILD_KEY, ARCH, R_VERSION, ARTIFACT_STORE, ARTIFACT_KEY
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
make -C "$src" -j"$jobs" || die "compiling R failed (see the compiler output above)"
stage=$work/stage
make -C "$src" install DESTDIR="$stage" || die "make install failed"

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
store_put "$out/metadata.json" "$(metadata_key "$ARTIFACT_KEY")"
if [[ -n ${BUILD_RESULT_FILE-} ]]; then write_result "$BUILD_RESULT_FILE" "$zip_sha" "$zip_size" "$unzipped"; fi
log "done: R $R_VERSION ($ARCH), $zip_size bytes zipped, $unzipped bytes unzipped, sha256 $zip_sha"
