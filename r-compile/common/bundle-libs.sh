# shellcheck shell=bash
# Finds the shared libraries that compiled code loads (ldd) and copies into a bundle folder
# those that neither the Lambda image nor the layers below provide. Sourced after lib.sh.
#
# The Lambda image's libraries are listed in lambda-provided-libs.txt beside this file;
# LAMBDA_PROVIDED_LIBS may name another list (an absolute path), e.g. for a test that must
# see a library bundled, or a newer image.

declare -A PROVIDED=()
declare -a BUNDLED=()
declare -a PROVIDED_ROOTS=()

# load_provided_list: fills PROVIDED from the list of the Lambda image's sonames.
load_provided_list() {
  local file line
  if [[ -n ${LAMBDA_PROVIDED_LIBS-} ]]; then
    require_abs_path LAMBDA_PROVIDED_LIBS
    file=$LAMBDA_PROVIDED_LIBS
  else
    file=$COMMON_DIR/lambda-provided-libs.txt
  fi
  [[ -r $file ]] || die "cannot read the list of libraries the Lambda image provides: $file"
  while IFS= read -r line || [[ -n $line ]]; do
    line=${line%%#*}
    line=${line//[[:space:]]/}
    [[ -z $line ]] && continue
    [[ $line =~ ^[A-Za-z0-9._+-]+$ ]] || die "$file: $(shown "$line") is not a library name"
    PROVIDED[$line]=1
  done <"$file"
}

# provide_sonames_of FILE: everything FILE loads counts as provided (used for the R build's
# own libraries when building against an R that is already installed).
provide_sonames_of() {
  local name path
  while IFS=$'\t' read -r name path; do
    [[ $path == NOTFOUND ]] || PROVIDED[$name]=1
  done < <(ldd_deps "$1")
}

# provide_files_in DIR: the libraries in DIR are provided below (an R build or stacked layer).
provide_files_in() {
  local f
  [[ -d $1 ]] || return 0
  PROVIDED_ROOTS+=("$1")
  for f in "$1"/*; do
    [[ -e $f ]] && PROVIDED[${f##*/}]=1
  done
  return 0
}

is_elf() {
  local magic=
  [[ -f $1 && ! -L $1 ]] || return 1
  LC_ALL=C IFS= read -r -n 4 -d '' magic <"$1" 2>/dev/null || true
  [[ $magic == $'\177ELF' ]]
}

# elf_files DIR...: regular ELF files (executables, shared objects) under the given folders.
elf_files() {
  local f
  while IFS= read -r -d '' f; do
    is_elf "$f" && printf '%s\n' "$f"
  done < <(find "$@" -type f -print0)
  return 0
}

# ldd_deps FILE: one `soname<TAB>path` line per library FILE loads (path NOTFOUND if missing).
ldd_deps() {
  { ldd "$1" 2>/dev/null || true; } |
    awk '$2 == "=>" { if ($3 == "not") print $1 "\tNOTFOUND"; else print $1 "\t" $3 }'
}

under_provided_root() {
  local path=$1 root
  for root in "${PROVIDED_ROOTS[@]}"; do
    [[ $path == "$root"/* ]] && return 0
  done
  return 1
}

# bundle_dependencies DEST FILE...: copies into DEST every library the files load that is not
# provided. Fails, naming them, when libraries cannot be found at all. ldd lists the whole
# dependency closure, so the copies' own dependencies are covered too.
bundle_dependencies() {
  local dest=$1 file name path
  shift
  local -a missing=()
  mkdir -p "$dest"
  for file in "$@"; do
    while IFS=$'\t' read -r name path; do
      [[ -n ${PROVIDED[$name]-} ]] && continue
      if [[ $path == NOTFOUND ]]; then
        missing+=("$name (needed by ${file##*/})")
        continue
      fi
      under_provided_root "$path" && continue
      [[ $path == "$dest"/* ]] && continue
      [[ -e $dest/$name ]] && continue
      cp -L -- "$path" "$dest/$name"
      chmod 0755 "$dest/$name"
      BUNDLED+=("$name")
      log "bundled $name (from $path)"
    done < <(ldd_deps "$file")
  done
  if ((${#missing[@]} > 0)); then
    die "shared libraries not found: ${missing[*]}; install the system package that provides them in the install phase"
  fi
}

# find_system_library NAME: the path of a shared library named by soname (libgomp.so.1) or
# stem (libgfortran), looked up where the dynamic loader looks: the folders of LD_LIBRARY_PATH
# (the Lambda image sets one with /lib64 and /usr/lib64), the linker cache, the usual folders.
find_system_library() {
  local name=$1 ldconfig_cmd tag pattern line entry path dir
  local -a ld_dirs=()
  ldconfig_cmd=$(command -v ldconfig || echo /sbin/ldconfig)
  case "$(machine_arch)" in
    x86_64) tag='x86-64' ;;
    arm64) tag='AArch64' ;;
  esac
  # A soname matches itself; a stem matches its versioned sonames (libgfortran.so.5, libyaml-0.so.2).
  if [[ $name == *.so* ]]; then pattern="^${name//./\\.}\$"; else pattern="^${name//./\\.}(-[0-9.]+)?\\.so\\.[0-9]"; fi
  IFS=: read -r -a ld_dirs <<<"${LD_LIBRARY_PATH-}"
  for dir in "${ld_dirs[@]}"; do
    [[ $dir == /* && -d $dir ]] || continue
    while IFS= read -r path; do
      entry=${path##*/}
      [[ $entry =~ $pattern ]] || continue
      printf '%s\t%s\n' "$entry" "$path"
      return 0
    done < <(find "$dir" -maxdepth 1 \( -type f -o -type l \) -name "${name%%.so*}*.so*" | LC_ALL=C sort)
  done
  if [[ -x $ldconfig_cmd ]]; then
    while IFS= read -r line; do
      entry=${line#"${line%%[![:space:]]*}"}
      entry=${entry%% *}
      [[ $entry =~ $pattern ]] || continue
      [[ $line == *"$tag"* ]] || continue
      path=${line##*=> }
      [[ -f $path ]] && {
        printf '%s\t%s\n' "$entry" "$path"
        return 0
      }
    done < <("$ldconfig_cmd" -p 2>/dev/null | LC_ALL=C sort)
  fi
  for dir in /usr/lib64 /lib64 /usr/lib/x86_64-linux-gnu /usr/lib/aarch64-linux-gnu /usr/lib /lib /usr/local/lib; do
    [[ -d $dir ]] || continue
    while IFS= read -r path; do
      entry=${path##*/}
      [[ $entry =~ $pattern ]] || continue
      printf '%s\t%s\n' "$entry" "$path"
      return 0
    done < <(find "$dir" -maxdepth 1 \( -type f -o -type l \) -name "${name%%.so*}*.so*" | LC_ALL=C sort)
  done
  return 1
}

# bundle_named_libraries DEST NAME...: the system libraries a manifest asks for by name, and
# whatever they load in turn that is not provided.
bundle_named_libraries() {
  local dest=$1 name found entry path root below
  shift
  mkdir -p "$dest"
  for name in "$@"; do
    found=$(find_system_library "$name") || die "system library $name not found on the build machine; install the package that provides it"
    entry=${found%%$'\t'*}
    path=${found#*$'\t'}
    [[ -e $dest/$entry ]] && continue
    below=
    for root in "${PROVIDED_ROOTS[@]}"; do
      [[ -e $root/$entry ]] && below=$root
    done
    if [[ -n $below ]]; then
      log "system library $entry is already provided below ($below); not bundled again"
      continue
    fi
    cp -L -- "$path" "$dest/$entry"
    chmod 0755 "$dest/$entry"
    BUNDLED+=("$entry")
    log "bundled $entry (asked for as $name, from $path)"
    bundle_dependencies "$dest" "$dest/$entry"
  done
}

# strip_tree DIR: drops symbols from executables and shared objects (debug info, mostly).
strip_tree() {
  local f
  command -v strip >/dev/null 2>&1 || {
    warn "strip not found; binaries are left unstripped"
    return 0
  }
  while IFS= read -r f; do
    strip --strip-unneeded "$f" 2>/dev/null || warn "could not strip ${f#"$1"/}"
  done < <(elf_files "$1")
}
