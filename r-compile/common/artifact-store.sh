# shellcheck shell=bash
# Fetches and stores build artifacts by object key, in the store named by ARTIFACT_STORE:
#   s3://bucket[/prefix]   in CodeBuild (uses `aws s3 cp`)
#   file:///abs/path       locally: the local backend's folder, object keys as relative paths
# Sourced after lib.sh. Call store_init once; it validates ARTIFACT_STORE.

STORE_KIND=
STORE_BASE=

store_init() {
  local value=${ARTIFACT_STORE-}
  [[ -n $value ]] || die "ARTIFACT_STORE is required: s3://bucket[/prefix] or file:///absolute/path" 2
  if [[ $value =~ $RE_S3_STORE ]]; then
    STORE_KIND="s3"
    STORE_BASE=${value%/}
    need_cmd aws
  elif [[ $value =~ $RE_FILE_STORE ]]; then
    [[ ! $value =~ (^|/)\.\.(/|$) ]] || die "ARTIFACT_STORE must not contain .. segments" 2
    STORE_KIND="file"
    STORE_BASE=${value#file://}
    STORE_BASE=${STORE_BASE%/}
    [[ -d $STORE_BASE ]] || mkdir -p "$STORE_BASE" || die "cannot create the artifact folder $STORE_BASE"
  else
    die "ARTIFACT_STORE=$(shown "$value") is invalid: expected s3://bucket[/prefix] or file:///absolute/path" 2
  fi
}

# The store location of an object key, for messages.
store_location() { printf '%s/%s' "${STORE_BASE}" "$1"; }

# store_fetch KEY DEST: copies an object to a local file; fails clearly when it does not exist.
store_fetch() {
  local key=$1 dest=$2
  case "$STORE_KIND" in
    s3)
      aws s3 cp --only-show-errors "$STORE_BASE/$key" "$dest" ||
        die "cannot fetch $(store_location "$key") (does the artifact exist? was it built first?)"
      ;;
    file)
      [[ -f $STORE_BASE/$key ]] || die "artifact not found: $(store_location "$key") (build it first)"
      cp -- "$STORE_BASE/$key" "$dest"
      ;;
    *) die "store_init was not called" ;;
  esac
}

# store_put SRC KEY: stores a local file under an object key. Local writes go through a
# temporary name and a rename, so a killed build never leaves half an artifact behind.
store_put() {
  local src=$1 key=$2 target tmp
  case "$STORE_KIND" in
    s3)
      aws s3 cp --only-show-errors "$src" "$STORE_BASE/$key" || die "cannot upload to $(store_location "$key")"
      ;;
    file)
      target=$STORE_BASE/$key
      mkdir -p "$(dirname "$target")"
      tmp=$target.$$.tmp
      cp -- "$src" "$tmp"
      mv -f -- "$tmp" "$target"
      ;;
    *) die "store_init was not called" ;;
  esac
  log "stored $(store_location "$key")"
}

