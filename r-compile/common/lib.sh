# shellcheck shell=bash
# shellcheck disable=SC2034 # the constants are used by the scripts that source this file
# Shared helpers for the build scripts: logging, strict validation of the environment
# variables that are the scripts' only inputs, and small file utilities.
#
# Sourced, never run. Every value that comes from the environment is checked against a strict
# pattern before use and is only ever used quoted: nothing here evaluates or splices input.

# The byte limit Lambda enforces on a function plus all its layers, unzipped (from its error text).
readonly LAMBDA_UNZIPPED_LIMIT=262144000
# Files in every zip get this modification time (1980-01-01 12:00 UTC, inside the DOS range).
readonly ZIP_EPOCH=315576000

readonly RE_BUILD_KEY='^[0-9a-f]{64}$'
readonly RE_ARCH='^(x86_64|arm64)$'
readonly RE_R_VERSION='^[0-9]+\.[0-9]+\.[0-9]+$'
readonly RE_SHA256='^[0-9a-f]{64}$'
# Object keys: relative, `/`-separated segments of safe characters, no `.` or `..` segments.
readonly RE_OBJECT_KEY='^[A-Za-z0-9_-][A-Za-z0-9._-]*(/[A-Za-z0-9_-][A-Za-z0-9._-]*)*\.zip$'
readonly RE_METADATA_KEY='^[A-Za-z0-9_-][A-Za-z0-9._-]*(/[A-Za-z0-9_-][A-Za-z0-9._-]*)*\.metadata\.json$'
readonly RE_ABS_PATH='^/[A-Za-z0-9._/+@~ -]*$'
readonly RE_S3_STORE='^s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](/[A-Za-z0-9._-]+)*/?$'
readonly RE_FILE_STORE='^file:///[A-Za-z0-9._/+@~ -]*$'
readonly RE_HTTP_URL='^https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?(/[A-Za-z0-9._~%/+:@=-]*)?$'
readonly RE_LAYER_NAME='^[A-Za-z0-9][A-Za-z0-9_-]{0,139}$'
readonly RE_LAYER_TYPE='^(runtime|packages)$'
# R's rule for package names: letters, digits and dots, starting with a letter, not ending in a dot.
readonly RE_R_PACKAGE='^[A-Za-z][A-Za-z0-9.]*[A-Za-z0-9]$'
# Shared library names as the manifest allows them: a soname (libgomp.so.1) or a stem (libgfortran).
readonly RE_SYSTEM_LIBRARY='^lib[A-Za-z0-9_+-]+(\.so(\.[0-9]+)*)?$'

log() { printf '[%s] %s\n' "${LOG_TAG:-build}" "$*" >&2; }
warn() { printf '[%s] WARNING: %s\n' "${LOG_TAG:-build}" "$*" >&2; }

# die MESSAGE [STATUS]: status 2 is an invalid input, 1 (default) a failed build.
die() {
  printf '[%s] ERROR: %s\n' "${LOG_TAG:-build}" "$1" >&2
  exit "${2:-1}"
}

# Shows a value in a message without letting it inject terminal control characters.
shown() { printf '%q' "$1"; }

# require_env NAME REGEX WHAT: NAME must be set, non-empty, and match REGEX.
require_env() {
  local name=$1 re=$2 what=$3 value
  value=${!name-}
  [[ -n $value ]] || die "$name is required: $what" 2
  [[ $value =~ $re ]] || die "$name=$(shown "$value") is invalid: expected $what" 2
}

# optional_env NAME REGEX WHAT: NAME may be unset or empty; otherwise it must match REGEX.
optional_env() {
  local name=$1 re=$2 what=$3 value
  value=${!name-}
  [[ -z $value || $value =~ $re ]] || die "$name=$(shown "$value") is invalid: expected $what" 2
}

# require_list NAME REGEX WHAT OUT: a space-separated list, each item matching REGEX (empty
# allowed). The items go into the array named OUT, in the order given, without duplicates.
require_list() {
  local name=$1 re=$2 what=$3 value item
  local -n out_=$4
  local -a items=()
  local -A seen=()
  out_=()
  value=${!name-}
  [[ $value =~ ^[A-Za-z0-9._+/\ -]*$ ]] || die "$name contains characters that no $what can have" 2
  read -r -a items <<<"$value"
  for item in "${items[@]}"; do
    [[ $item =~ $re ]] || die "$name: $(shown "$item") is not a valid $what" 2
    [[ -n ${seen[$item]-} ]] && continue
    seen[$item]=1
    out_+=("$item")
  done
}

require_object_key() {
  local name=$1
  require_env "$name" "$RE_OBJECT_KEY" "an object key such as artifacts/layers/<key>.zip"
  [[ ! ${!name} =~ (^|/)\.\.?(/|$) ]] || die "$name must not contain . or .. segments" 2
}

# require_metadata_key NAME: like require_object_key, for the .metadata.json beside a zip.
require_metadata_key() {
  local name=$1
  require_env "$name" "$RE_METADATA_KEY" "an object key such as artifacts/layers/<key>.metadata.json"
  [[ ! ${!name} =~ (^|/)\.\.?(/|$) ]] || die "$name must not contain . or .. segments" 2
}

require_abs_path() {
  local name=$1
  require_env "$name" "$RE_ABS_PATH" "an absolute path of letters, digits and ._/+@~- characters"
  [[ ! ${!name} =~ (^|/)\.\.(/|$) ]] || die "$name must not contain .. segments" 2
}

# The architecture name Lambda uses for this machine.
machine_arch() {
  case "$(uname -m)" in
    x86_64 | amd64) echo x86_64 ;;
    aarch64 | arm64) echo arm64 ;;
    *) uname -m ;;
  esac
}

# Refuses to build for an architecture other than the machine's: the zip would not run.
require_native_arch() {
  local native
  native=$(machine_arch)
  [[ $ARCH == "$native" ]] || die "ARCH=$ARCH but this machine is $native: build on an $ARCH machine or image" 2
}

need_cmd() {
  local cmd
  for cmd in "$@"; do
    command -v "$cmd" >/dev/null 2>&1 || die "required command not found: $cmd (run the install-deps script of this build first)"
  done
}

cpu_count() { getconf _NPROCESSORS_ONLN 2>/dev/null || echo 1; }

sha256_of() { sha256sum "$1" | cut -d ' ' -f 1; }

file_size() { stat -c %s "$1"; }

# Sum of the sizes of the regular files under DIR (what Lambda counts when it unpacks).
tree_size() { find "$1" -type f -printf '%s\n' | awk '{ s += $1 } END { printf "%d\n", s }'; }

tree_count() { find "$1" \( -type f -o -type l \) -printf '.\n' | wc -l | tr -d ' '; }

# A JSON string literal. Inputs reaching here are validated names, versions and paths.
json_str() {
  local s=$1
  s=${s//\\/\\\\}
  s=${s//\"/\\\"}
  s=${s//$'\t'/\\t}
  s=${s//$'\n'/\\n}
  printf '"%s"' "$s"
}

# make_work_dir NAME: a fresh, private work directory at a fixed path, BUILD_WORK_DIR/r-lambda-NAME
# (BUILD_WORK_DIR defaults to /tmp). Fixed, because R records the path a package was installed
# to inside its lazy-load database: a random path would make every build's bytes differ.
# Made with one mkdir (mode 700, no -p), so it is never a folder or link someone else prepared:
# if the path exists it is used only when it is our own directory left by a build that is gone
# (its recorded pid no longer runs); a link, another user's folder, or a live build of the same
# key on this machine stops this build with a message saying which.
make_work_dir() {
  local base=/tmp dir pid
  if [[ -n ${BUILD_WORK_DIR-} ]]; then
    require_abs_path BUILD_WORK_DIR
    base=${BUILD_WORK_DIR%/}
  fi
  dir=$base/r-lambda-$1
  if ! mkdir -m 700 -- "$dir" 2>/dev/null; then
    [[ -L $dir ]] && die "$dir is a symbolic link: refusing to build there (it is not this build's folder); remove it if you made it"
    [[ -d $dir && -O $dir ]] || die "$dir exists and is not this user's folder: refusing to build there; remove it, or set BUILD_WORK_DIR to a private folder"
    pid=$(cat -- "$dir/.owner" 2>/dev/null || true)
    if [[ $pid =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null; then
      die "another build of the same key (pid $pid) is using $dir on this machine; run again when it has finished"
    fi
    # Our own folder, left by a build that was killed: start it afresh.
    rm -rf -- "$dir"
    mkdir -m 700 -- "$dir" || die "cannot create the work directory $dir"
  fi
  printf '%s\n' "$$" >"$dir/.owner"
  printf '%s\n' "$dir"
}

# Checks an unzipped size against Lambda's limit for the whole stack a function would use.
# check_stack_size LAYER_BYTES BELOW_BYTES: fails above the limit, warns above 80% of it.
check_stack_size() {
  local layer=$1 below=$2 total limit=${LAMBDA_UNZIPPED_LIMIT_OVERRIDE:-$LAMBDA_UNZIPPED_LIMIT}
  [[ $limit =~ ^[0-9]+$ ]] || die "LAMBDA_UNZIPPED_LIMIT_OVERRIDE must be a number of bytes" 2
  total=$((layer + below))
  if ((total > limit)); then
    die "too large for Lambda: this layer unzips to $layer bytes and the layers below it to $below bytes, $total in all, over Lambda's limit of $limit bytes unzipped for a function and all its layers; split the layer or drop packages"
  fi
  if ((total * 10 > limit * 8)); then
    warn "this layer and the layers below it unzip to $total bytes, $((total * 100 / limit))% of Lambda's $limit-byte limit: little room is left for the function's own code"
  fi
  log "size: layer $layer bytes + below $below bytes = $total bytes unzipped (limit $limit)"
}

# Writes the values the buildspec exports (KEY=VALUE lines; values are hex digits or numbers).
write_result() {
  local file=$1 sha=$2 size=$3 unzipped=$4
  {
    printf 'ARTIFACT_SHA256=%s\n' "$sha"
    printf 'ARTIFACT_SIZE=%s\n' "$size"
    printf 'UNZIPPED_SIZE=%s\n' "$unzipped"
  } >"$file"
}
