#!/usr/bin/env bash
# A stand-in for Amazon Linux 2023's package tools, `dnf` (dnf 4), `microdnf` and `rpm`, for
# testing the build scripts' dnf paths on a Debian machine. Put on PATH under those names
# (symbolic links to this file); the name it is called by picks the tool. As on the Lambda
# image (provided.al2023), `dnf` may be a link to `microdnf`: then it behaves as microdnf.
#
# It models only what the build scripts use, with the arguments, output streams, messages
# and exit statuses of the real tools (sources in test/build-dnf.test.ts):
#   rpm -q --whatprovides CAP...   NEVRA per providing installed package, or
#                                  "no package provides CAP" (stdout); status = failed args
#   rpm -q NAME...                 NEVRA, or "package NAME is not installed"; same status
#   dnf install -y SPEC...         name or provide; a spec nothing matches: "No match for
#                                  argument: SPEC" (stdout), "Error: Unable to find a match:
#                                  SPECS" (stderr), status 1, nothing installed
#   dnf provides SPEC...           matches, or "Error: No matches found. ..." (stderr), status 1
#   microdnf install -y SPEC...    name or provide; the first spec nothing matches:
#                                  "error: No package matches 'SPEC'" (stderr), status 1
#   microdnf provides|repoquery --whatprovides   not microdnf commands/options: status 1
# Anything else fails with status 64 and "stand-in: not modelled", so a script that starts
# using something new fails its test instead of passing against an invented answer.
#
# "Installing" records the package in the state folder and, for a library package, makes the
# Debian machine's copy of its sonames visible in $AL2023_STANDIN_STATE/root/usr/lib64 (the
# test puts that folder on LD_LIBRARY_PATH, as the Lambda image's LD_LIBRARY_PATH has
# /usr/lib64). Dependencies between packages are not modelled.
#
# State ($AL2023_STANDIN_STATE, required): installed (one package name per line), calls.log
# (every invocation), root/usr/lib64.
set -euo pipefail

state=${AL2023_STANDIN_STATE:?AL2023_STANDIN_STATE must name the stand-in state folder}
mkdir -p "$state/root/usr/lib64"
touch "$state/installed"

program=${0##*/}
if [[ -L $0 && $(readlink "$0") == *microdnf ]]; then program=microdnf; fi
printf '%s[%s] %s\n' "${0##*/}" "$program" "$*" >>"$state/calls.log"

case "$(uname -m)" in
  x86_64) arch=x86_64 isa=x86-64 ;;
  aarch64) arch=aarch64 isa=aarch-64 ;;
  *) echo "stand-in: unsupported machine $(uname -m)" >&2; exit 64 ;;
esac

# ---- the repository: version-release, extra provides, sonames made visible ---------------
# Names and provides as in AL2023's repositories (rpm's elfdeps adds NAME()(64bit) for each
# soname a 64-bit ELF file has, and NAME(VERSION)(64bit) for its symbol versions); the versions
# are those of AL2023.3 for gcc's libraries and illustrative for the rest.
declare -A VR=(
  [gcc]=11.4.1-2.amzn2023.0.2 [gcc-c++]=11.4.1-2.amzn2023.0.2 [gcc-gfortran]=11.4.1-2.amzn2023.0.2
  [libgomp]=11.4.1-2.amzn2023.0.2 [libgfortran]=11.4.1-2.amzn2023.0.2
  [zlib]=1.2.11-33.amzn2023.0.5 [zlib-devel]=1.2.11-33.amzn2023.0.5 [libyaml]=0.2.5-5.amzn2023.0.2
  [make]=4.3-5.amzn2023.0.2 [tar]=1.34-1.amzn2023.0.4 [gzip]=1.12-1.amzn2023.0.1
  [zip]=3.0-28.amzn2023.0.2 [unzip]=6.0-57.amzn2023.0.2 [binutils]=2.39-6.amzn2023.0.10
  [findutils]=4.8.0-2.amzn2023.0.2 [glibc-common]=2.34-52.amzn2023.0.8 [perl]=5.32.1-477.amzn2023.0.6
  [xz]=5.2.5-9.amzn2023.0.2 [bzip2-devel]=1.0.8-6.amzn2023.0.2 [xz-devel]=5.2.5-9.amzn2023.0.2
  [pcre2-devel]=10.40-1.amzn2023.0.3 [libcurl-devel]=8.5.0-1.amzn2023.0.2 [awscli-2]=2.15.30-1.amzn2023.0.1
)
declare -A NOARCH=([awscli-2]=1)
declare -A PROVIDES=(
  [libgomp]='libgomp.so.1()(64bit) libgomp.so.1(GOMP_1.0)(64bit) libgomp.so.1(OMP_1.0)(64bit)'
  [libgfortran]='libgfortran.so.5()(64bit) libgfortran.so.5(GFORTRAN_8)(64bit)'
  [zlib]='libz.so.1()(64bit) libz.so.1(ZLIB_1.2.0)(64bit)'
  [libyaml]='libyaml-0.so.2()(64bit)'
  [awscli-2]='awscli'
)
declare -A SONAMES=([libgomp]=libgomp.so.1 [libgfortran]=libgfortran.so.5 [zlib]=libz.so.1 [libyaml]=libyaml-0.so.2)

nevra() {
  if [[ -n ${NOARCH[$1]-} ]]; then printf '%s-%s.noarch' "$1" "${VR[$1]}"; else printf '%s-%s.%s' "$1" "${VR[$1]}" "$arch"; fi
}

# provides_of NAME: every capability the package provides (its name, name(isa), the rest).
provides_of() {
  local p
  printf '%s\n' "$1"
  [[ -n ${NOARCH[$1]-} ]] || printf '%s(%s)\n' "$1" "$isa"
  for p in ${PROVIDES[$1]-}; do printf '%s\n' "$p"; done
}

# has_provide NAME CAP: whether the package provides CAP. (Not `provides_of | grep -q`: with
# pipefail, grep leaving early can make the writer fail with SIGPIPE, and the pipe with it.)
has_provide() {
  local p
  while IFS= read -r p; do
    [[ $p == "$2" ]] && return 0
  done < <(provides_of "$1")
  return 1
}

# resolve SPEC: the package a name or capability selects (dnf's subject: name first, then provides).
resolve() {
  local name
  if [[ -n ${VR[$1]-} ]]; then printf '%s\n' "$1"; return 0; fi
  for name in "${!VR[@]}"; do
    if has_provide "$name" "$1"; then printf '%s\n' "$name"; return 0; fi
  done
  return 1
}

is_installed() { grep -qxF -- "$1" "$state/installed"; }

install_package() {
  local name=$1 soname path
  is_installed "$name" || printf '%s\n' "$name" >>"$state/installed"
  soname=${SONAMES[$name]-}
  [[ -n $soname ]] || return 0
  # awk reads to the end (no early exit), so ldconfig never dies of SIGPIPE under pipefail.
  path=$(ldconfig -p | awk -v s="$soname" '$1 == s && !done { print $NF; done = 1 }')
  [[ -n $path && -f $path ]] || { echo "stand-in: this Debian machine has no $soname to make visible" >&2; exit 64; }
  cp -L -- "$path" "$state/root/usr/lib64/$soname"
}

not_modelled() { echo "stand-in: not modelled: $program $*" >&2; exit 64; }

# ---- rpm -------------------------------------------------------------------------------
run_rpm() {
  local mode=package arg name found failed=0
  [[ ${1-} == -q ]] || not_modelled "$@"
  shift
  if [[ ${1-} == --whatprovides ]]; then mode=whatprovides; shift; fi
  (($# > 0)) || { echo "rpm: no arguments given for query" >&2; exit 1; }
  for arg in "$@"; do
    [[ $arg != -* ]] || not_modelled "-q" "$@"
    found=0
    while IFS= read -r name; do
      [[ -n $name ]] || continue
      if [[ $mode == package ]]; then
        [[ $name == "$arg" ]] || continue
      else
        has_provide "$name" "$arg" || continue
      fi
      nevra "$name"; echo
      found=1
    done <"$state/installed"
    if ((found == 0)); then
      failed=$((failed + 1))
      if [[ $mode == package ]]; then echo "package $arg is not installed"; else echo "no package provides $arg"; fi
    fi
  done
  exit $((failed > 254 ? 254 : failed))
}

# ---- dnf 4 -----------------------------------------------------------------------------
run_dnf() {
  local command='' yes=0 arg name
  local -a specs=()
  for arg in "$@"; do
    case "$arg" in
      -y | --assumeyes) yes=1 ;;
      -q | --quiet | --setopt=*) ;;
      -*) not_modelled "$@" ;;
      *) if [[ -z $command ]]; then command=$arg; else specs+=("$arg"); fi ;;
    esac
  done
  case "$command" in
    install)
      ((${#specs[@]} > 0)) || { echo "Error: Need to provide at least one argument" >&2; exit 1; }
      local -a selected=() unmatched=()
      for arg in "${specs[@]}"; do
        if name=$(resolve "$arg"); then selected+=("$name"); else
          echo "No match for argument: $arg"
          unmatched+=("$arg")
        fi
      done
      if ((${#unmatched[@]} > 0)); then
        echo "Error: Unable to find a match: ${unmatched[*]}" >&2
        exit 1
      fi
      local -a new=()
      for name in "${selected[@]}"; do
        if is_installed "$name"; then echo "Package $(nevra "$name") is already installed."; else new+=("$name"); fi
      done
      echo "Dependencies resolved."
      if ((${#new[@]} == 0)); then echo "Nothing to do."; echo "Complete!"; exit 0; fi
      echo "Installing:"
      for name in "${new[@]}"; do echo " $(nevra "$name")"; done
      if ((yes == 0)); then echo "Is this ok [y/N]: Operation aborted."; echo "Error: Operation aborted." >&2; exit 1; fi
      for name in "${new[@]}"; do install_package "$name"; done
      echo "Complete!"
      ;;
    provides)
      local any=0
      for arg in "${specs[@]}"; do
        for name in "${!VR[@]}"; do
          has_provide "$name" "$arg" || continue
          printf '%s : %s\nRepo        : amazonlinux\nMatched from:\nProvide    : %s\n\n' "$(nevra "$name")" "$name" "$arg"
          any=1
        done
      done
      if ((any == 0)); then
        echo 'Error: No matches found. If searching for a file, try specifying the full path or using a wildcard prefix ("*/") at the beginning.' >&2
        exit 1
      fi
      ;;
    *) not_modelled "$@" ;;
  esac
}

# ---- microdnf ----------------------------------------------------------------------------
run_microdnf() {
  local command='' yes=0 arg name
  local -a specs=()
  for arg in "$@"; do
    case "$arg" in
      -y | --assumeyes) yes=1 ;;
      --setopt=*) ;;
      -*) echo "error: Unknown option $arg" >&2; exit 1 ;;
      *) if [[ -z $command ]]; then command=$arg; else specs+=("$arg"); fi ;;
    esac
  done
  case "$command" in
    install)
      ((${#specs[@]} > 0)) || { echo "error: Packages are not specified" >&2; exit 1; }
      local -a new=()
      for arg in "${specs[@]}"; do
        name=$(resolve "$arg") || { echo "error: No package matches '$arg'" >&2; exit 1; }
        is_installed "$name" || new+=("$name")
      done
      if ((${#new[@]} == 0)); then echo "Nothing to do."; exit 0; fi
      echo "Package                                  Repository        Size"
      echo "Installing:"
      for name in "${new[@]}"; do echo " $(nevra "$name")   amazonlinux"; done
      # Without -y, microdnf 3.10 asks "Is this ok [y/N]:" and, on a closed stdin, loops
      # for ever (dnf-utils.c reads to a newline that never comes): the stand-in refuses.
      ((yes == 1)) || { echo "stand-in: microdnf install without -y would wait for an answer for ever" >&2; exit 64; }
      for name in "${new[@]}"; do install_package "$name"; done
      echo "Complete."
      ;;
    provides | list | search | info)
      echo "This is microdnf, which implements subset of \`dnf'." >&2
      echo "error: Unknown command: '$command'" >&2
      exit 1
      ;;
    *) not_modelled "$@" ;;
  esac
}

# ---- id: the install phase runs as root in CodeBuild ------------------------------------
run_id() {
  [[ $* == -u ]] || not_modelled "$@"
  echo 0
}

case "$program" in
  rpm) run_rpm "$@" ;;
  dnf) run_dnf "$@" ;;
  microdnf) run_microdnf "$@" ;;
  id) run_id "$@" ;;
  *) echo "stand-in: called as $program; link it as dnf, microdnf, rpm or id" >&2; exit 64 ;;
esac
