#!/usr/bin/env bash
# Builds a layer and stores it as a deterministic zip plus metadata.
#
# Inputs, all from the environment (see buildspecs/README.md):
#   BUILD_KEY, ARCH, R_VERSION, ARTIFACT_STORE, ARTIFACT_KEY, METADATA_KEY (keys from naming.ts)
#   LAYER_NAME, LAYER_TYPE (runtime|packages), R_PACKAGES, SYSTEM_LIBRARIES, R_REPOSITORY
#   R_LOCKED_PACKAGES     optional: name/version/md5|sha256/hex ... from layers.lock, installed
#                         exactly (each tarball's checksum verified) instead of resolving
#   R_BUILD_ARTIFACT_KEY   the R build zip to build against
#   STACK_ARTIFACT_KEYS    layer zips visible during the build (their packages are not repeated)
#   BUILD_RESULT_FILE      optional absolute path: where to write the values the buildspec exports
# Local and test use only (the pipeline never sets these):
#   HOST_R        an installed R front end (e.g. /usr/bin/R) to build a packages layer against,
#                 instead of R_BUILD_ARTIFACT_KEY
#   RUNTIME_DIR   the runtime files for a runtime layer (default: runtime/ of this repository)
#
# A runtime layer is the R build plus runtime/ (bootstrap at the root) plus its packages in
# R/library. A packages layer holds only R/library/<package> and R/lib/<bundled library>.
# shellcheck source-path=SCRIPTDIR/../common
set -euo pipefail
SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
COMMON_DIR=$(cd "$SCRIPT_DIR/../common" && pwd)
REPO_DIR=$(cd "$SCRIPT_DIR/../.." && pwd)
LOG_TAG=layer
# shellcheck source=lib.sh
. "$COMMON_DIR/lib.sh"
# shellcheck source=artifact-store.sh
. "$COMMON_DIR/artifact-store.sh"
# shellcheck source=zip.sh
. "$COMMON_DIR/zip.sh"
# shellcheck source=bundle-libs.sh
. "$COMMON_DIR/bundle-libs.sh"

# ---- inputs -------------------------------------------------------------------------------
require_env BUILD_KEY "$RE_BUILD_KEY" "64 lowercase hexadecimal digits"
require_env ARCH "$RE_ARCH" "x86_64 or arm64"
require_env R_VERSION "$RE_R_VERSION" "a version such as 4.4.1"
require_object_key ARTIFACT_KEY
require_metadata_key METADATA_KEY
require_env LAYER_NAME "$RE_LAYER_NAME" "a layer name of letters, digits, - and _"
require_env LAYER_TYPE "$RE_LAYER_TYPE" "runtime or packages"
declare -a packages=() system_libraries=() stack_keys=()
require_list R_PACKAGES "$RE_R_PACKAGE" "R package name" packages
require_list SYSTEM_LIBRARIES "$RE_SYSTEM_LIBRARY" "shared library name (libfoo or libfoo.so.1)" system_libraries
require_list STACK_ARTIFACT_KEYS "$RE_OBJECT_KEY" "object key" stack_keys
declare -a locked_packages=()
require_list R_LOCKED_PACKAGES '^[A-Za-z][A-Za-z0-9.]*[A-Za-z0-9]/[0-9]+([.-][0-9]+)+/(md5/[0-9a-f]{32}|sha256/[0-9a-f]{64})$' \
  "locked package (name/version/md5/hex)" locked_packages
for key in "${stack_keys[@]}"; do
  [[ ! $key =~ (^|/)\.\.?(/|$) ]] || die "STACK_ARTIFACT_KEYS must not contain . or .. segments" 2
done
if [[ $LAYER_TYPE == packages ]] && ((${#packages[@]} + ${#system_libraries[@]} == 0)); then
  die "a packages layer needs R_PACKAGES (or SYSTEM_LIBRARIES): there is nothing to put in it" 2
fi
if ((${#packages[@]} > 0)); then
  require_env R_REPOSITORY "^(${RE_HTTP_URL:1:-1}|${RE_FILE_STORE:1:-1})\$" "an http(s):// or file:/// URL of a CRAN-like repository"
  [[ ! $R_REPOSITORY =~ (^|/)\.\.(/|$) ]] || die "R_REPOSITORY must not contain .. segments" 2
fi
if [[ -n ${HOST_R-} ]]; then
  require_abs_path HOST_R
  [[ -x $HOST_R ]] || die "HOST_R is not an executable: $HOST_R" 2
  [[ $LAYER_TYPE == packages ]] || die "HOST_R can only build a packages layer: a runtime layer contains the R build itself" 2
  [[ -z ${R_BUILD_ARTIFACT_KEY-} ]] || die "set R_BUILD_ARTIFACT_KEY or HOST_R, not both" 2
else
  require_object_key R_BUILD_ARTIFACT_KEY
fi
if [[ $LAYER_TYPE == runtime ]]; then
  RUNTIME_DIR=${RUNTIME_DIR:-$REPO_DIR/runtime}
  require_abs_path RUNTIME_DIR
  [[ -f $RUNTIME_DIR/bootstrap ]] || die "no bootstrap in $RUNTIME_DIR: a runtime layer needs runtime/bootstrap" 2
fi
if [[ -n ${BUILD_RESULT_FILE-} ]]; then require_abs_path BUILD_RESULT_FILE; fi
require_native_arch
store_init
need_cmd zip unzip ldd strip sha256sum find awk

# Fixed path: R records it inside installed packages, so it must not vary between builds.
work=$(make_work_dir "layer-$BUILD_KEY")
cleanup() {
  if [[ ${KEEP_WORK_DIR-} == 1 ]]; then log "work directory kept: $work"; else rm -rf -- "$work"; fi
}
trap cleanup EXIT
# A cancelled build (the local runner stops its process group) still removes its work folder.
trap 'exit 130' INT
trap 'exit 143' TERM
log "layer $LAYER_NAME ($LAYER_TYPE) for R $R_VERSION on $ARCH, build key $BUILD_KEY"

below=$work/opt     # what lies below this layer, merged as Lambda merges layers into /opt
layer=$work/layer   # this layer's zip root
mkdir -p "$below" "$layer/R/library" "$work/downloads"

fetch_and_unpack() { # KEY DIR
  local file
  file=$work/downloads/$(printf '%s' "$1" | tr '/' '_')
  store_fetch "$1" "$file"
  unzip_into "$file" "$2"
}

# ---- what the layer builds against ------------------------------------------------------
if [[ $LAYER_TYPE == runtime ]]; then
  log "R build: $R_BUILD_ARTIFACT_KEY (becomes part of this layer)"
  fetch_and_unpack "$R_BUILD_ARTIFACT_KEY" "$layer"
  rhome=$layer/R/lib/R
  log "runtime files from $RUNTIME_DIR"
  (cd "$RUNTIME_DIR" && find . -type f ! -name '*.md' -printf '%P\n') | while IFS= read -r f; do
    mkdir -p "$layer/$(dirname "$f")"
    cp -- "$RUNTIME_DIR/$f" "$layer/$f"
  done
  chmod 0755 "$layer/bootstrap"
elif [[ -n ${HOST_R-} ]]; then
  rhome=$(env -u R_HOME "$HOST_R" RHOME) || die "cannot run $HOST_R"
  log "building against the installed R at $rhome (HOST_R; local use only)"
else
  log "R build: $R_BUILD_ARTIFACT_KEY"
  fetch_and_unpack "$R_BUILD_ARTIFACT_KEY" "$below"
  rhome=$below/R/lib/R
fi
for key in "${stack_keys[@]}"; do
  log "stacked layer: $key"
  fetch_and_unpack "$key" "$below"
done
rbin=$rhome/bin/R
[[ -x $rbin ]] || die "no R at $rbin: is $R_BUILD_ARTIFACT_KEY an R build?"

# R runs with only the libraries named here: no site or user library of the build machine.
r_env=(env -u R_HOME -u R_LIBS -u R_PROFILE_USER -u R_ENVIRON_USER
  "R_LIBS_SITE=$work/none" "R_LIBS_USER=$work/none" "TMPDIR=$work/tmp" "HOME=$work/home"
  "R_MAKEVARS_USER=$SCRIPT_DIR/Makevars" "LANG=C.UTF-8" "LC_ALL=C.UTF-8")
mkdir -p "$work/tmp" "$work/home"
# shellcheck disable=SC2016 # R code
version=$("${r_env[@]}" "$rbin" --vanilla -s -e 'cat(paste(R.version$major, R.version$minor, sep = "."))') ||
  die "the R at $rbin does not start"
[[ $version == "$R_VERSION" ]] || die "the R to build against is $version, not R $R_VERSION as R_VERSION says"

lib_path() { # the shared-library search path for a layer root
  printf '%s' "$1/R/lib:$below/R/lib:$rhome/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
}

# ---- install packages ---------------------------------------------------------------------
if ((${#packages[@]} > 0)); then
  LAYER_LIB=$layer/R/library BELOW_LIBS=$below/R/library R_PACKAGES="${packages[*]}" \
    R_LOCKED_PACKAGES="${locked_packages[*]}" R_REPOSITORY=$R_REPOSITORY INSTALL_JOBS=$(cpu_count) LD_LIBRARY_PATH=$(lib_path "$layer") \
    "${r_env[@]}" "$rbin" --vanilla -s -f "$SCRIPT_DIR/install-packages.R" ||
    die "installing the packages of layer $LAYER_NAME failed (the R output above says why)"
fi

# ---- trim, bundle shared libraries, strip -------------------------------------------------
for dir in html help doc tests demo; do
  find "$layer/R/library" -mindepth 2 -maxdepth 2 -type d -name "$dir" -exec rm -rf -- {} +
done
find "$layer/R/library" -mindepth 1 -maxdepth 1 -name '00LOCK*' -exec rm -rf -- {} +

load_provided_list
provide_files_in "$below/R/lib"
provide_files_in "$rhome/lib"
if [[ -n ${HOST_R-} ]]; then
  # The installed R stands in for an R build: what R itself loads counts as provided by it.
  [[ -f $rhome/lib/libR.so ]] && provide_sonames_of "$rhome/lib/libR.so"
  provide_sonames_of "$rhome/bin/exec/R"
fi
mapfile -t elves < <(elf_files "$layer/R/library")
LD_LIBRARY_PATH=$(lib_path "$layer") bundle_dependencies "$layer/R/lib" "${elves[@]}"
if ((${#system_libraries[@]} > 0)); then
  LD_LIBRARY_PATH=$(lib_path "$layer") bundle_named_libraries "$layer/R/lib" "${system_libraries[@]}"
fi
strip_tree "$layer/R/library"
[[ -d $layer/R/lib ]] && strip_tree "$layer/R/lib"
find "$layer" -mindepth 1 -type d -empty -delete

# ---- size, zip ---------------------------------------------------------------------------
if [[ -z $(find "$layer" -mindepth 1 \( -type f -o -type l \) -print -quit) ]]; then
  die "nothing to put in layer $LAYER_NAME: everything it asks for is provided by the layers below it"
fi
out=$work/out
mkdir -p "$out"
layer_size=$(tree_size "$layer")
below_size=$(tree_size "$below")
[[ -n ${HOST_R-} ]] && warn "HOST_R: the size of R itself is not counted below this layer"
check_stack_size "$layer_size" "$below_size"
count=$(tree_count "$layer")
deterministic_zip "$layer" "$out/artifact.zip"
zip_sha=$(sha256_of "$out/artifact.zip")
zip_size=$(file_size "$out/artifact.zip")

# ---- check the packaged layer loads, from the zip, in a fresh R ---------------------------
check=$work/check
unzip_into "$out/artifact.zip" "$check"
check_rbin=$rbin
[[ $LAYER_TYPE == runtime ]] && check_rbin=$check/R/lib/R/bin/R
LAYER_LIB=$check/R/library BELOW_LIBS=$below/R/library R_PACKAGES="${packages[*]}" \
  LD_LIBRARY_PATH=$(lib_path "$check") "${r_env[@]}" "$check_rbin" --vanilla -s -f "$SCRIPT_DIR/check-load.R" ||
  die "the packaged layer $LAYER_NAME does not load (see above)"

# ---- metadata, store -----------------------------------------------------------------------
package_json() {
  local dir name version size sep=''
  for dir in "$layer"/R/library/*/; do
    [[ -f $dir/DESCRIPTION ]] || continue
    name=$(basename "$dir")
    version=$(awk -F': *' '$1 == "Version" { print $2; exit }' "$dir/DESCRIPTION")
    [[ $version =~ ^[0-9A-Za-z.-]+$ ]] || version=unknown
    size=$(tree_size "$dir")
    printf '%s\n    {"name": %s, "version": %s, "unzippedSize": %s}' "$sep" "$(json_str "$name")" "$(json_str "$version")" "$size"
    sep=','
  done
}
bundled_json=$(printf '%s\n' "${BUNDLED[@]}" | LC_ALL=C sort | awk 'NF { printf "%s\"%s\"", (n++ ? ", " : ""), $0 }')
{
  printf '{\n'
  printf '  "kind": "layer",\n'
  printf '  "buildKey": %s,\n' "$(json_str "$BUILD_KEY")"
  printf '  "layer": %s,\n' "$(json_str "$LAYER_NAME")"
  printf '  "type": %s,\n' "$(json_str "$LAYER_TYPE")"
  printf '  "rVersion": %s,\n' "$(json_str "$R_VERSION")"
  printf '  "arch": %s,\n' "$(json_str "$ARCH")"
  printf '  "sha256": %s,\n' "$(json_str "$zip_sha")"
  printf '  "zippedSize": %s,\n' "$zip_size"
  printf '  "unzippedSize": %s,\n' "$layer_size"
  printf '  "belowUnzippedSize": %s,\n' "$below_size"
  printf '  "fileCount": %s,\n' "$count"
  printf '  "packages": [%s\n  ],\n' "$(package_json)"
  printf '  "bundledLibraries": [%s]\n' "$bundled_json"
  printf '}\n'
} >"$out/metadata.json"

store_put "$out/artifact.zip" "$ARTIFACT_KEY"
store_put "$out/metadata.json" "$METADATA_KEY"
if [[ -n ${BUILD_RESULT_FILE-} ]]; then write_result "$BUILD_RESULT_FILE" "$zip_sha" "$zip_size" "$layer_size"; fi
log "done: layer $LAYER_NAME, $zip_size bytes zipped, $layer_size bytes unzipped, sha256 $zip_sha"
