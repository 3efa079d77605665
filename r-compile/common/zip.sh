# shellcheck shell=bash
# Deterministic zips: the same tree gives the same bytes, whatever the clock, umask, owner or
# directory order of the machine. Sourced after lib.sh.

# normalize_tree DIR: fixed modes (755 for executables and directories, 644 otherwise) and a
# fixed modification time on everything, so neither leaks into the zip.
normalize_tree() {
  local dir=$1
  if find "$dir" -name "$(printf '*\n*')" -print -quit | grep -q .; then
    die "a file name under $dir contains a newline; refusing to zip it"
  fi
  find "$dir" -type d -exec chmod 0755 {} +
  find "$dir" -type f -perm -u=x -exec chmod 0755 {} +
  find "$dir" -type f ! -perm -u=x -exec chmod 0644 {} +
  find "$dir" -exec touch -h -d "@$ZIP_EPOCH" {} +
}

# deterministic_zip DIR OUT: zips the content of DIR (paths relative to it) into OUT.
# Entries are in byte order of their paths; no directory entries, no extra attributes
# (owner, extended timestamps); symbolic links are stored as links.
deterministic_zip() {
  local dir=$1 out=$2
  need_cmd zip
  [[ $out == /* ]] || out=$PWD/$out
  normalize_tree "$dir"
  rm -f -- "$out"
  (
    cd "$dir"
    find . -mindepth 1 \( -type f -o -type l \) -printf '%P\n' | LC_ALL=C sort |
      TZ=UTC zip -X -D -y -q -9 -@ "$out"
  ) || die "zip failed for $dir"
}

# unzip_into ZIP DIR: unpacks a zip over DIR (later zips overwrite equal paths, as on Lambda).
unzip_into() {
  local zip=$1 dir=$2
  need_cmd unzip
  mkdir -p "$dir"
  unzip -q -o "$zip" -d "$dir" || die "cannot unzip $zip"
}
