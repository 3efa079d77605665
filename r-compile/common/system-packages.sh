# shellcheck shell=bash
# Installs system packages with the machine's package manager: dnf (or microdnf, yum) on
# Amazon Linux 2023, apt-get on Debian and Ubuntu. Packages already installed are left alone,
# so on a prepared machine this changes nothing. Sourced after lib.sh.
#
# On dnf systems an item may also be a shared library's RPM capability, `libgomp.so.1()(64bit)`:
# rpm records one for every soname a package ships (with the `(64bit)` marker for any 64-bit
# ELF file, x86_64 and aarch64 alike), `rpm -q --whatprovides` answers whether one is installed,
# and `dnf install`/`microdnf install` resolve it to the package that provides it. Nothing else
# is used: on the Lambda image (provided.al2023) `dnf` is microdnf, which has no `provides` or
# `repoquery --whatprovides`.

# A soname capability exactly as soname_capability makes it, and nothing else.
readonly RE_SONAME_CAPABILITY='^lib[A-Za-z0-9_+-]+\.so(\.[0-9]+)+\(\)\(64bit\)$'
readonly RE_PACKAGE_NAME='^[A-Za-z0-9][A-Za-z0-9._+-]*$'

# What each install item stands for, for messages: ASKED_AS[item]="SYSTEM_LIBRARIES libgomp.so.1".
declare -A ASKED_AS=()

package_manager() {
  local pm
  for pm in dnf microdnf yum apt-get; do
    if command -v "$pm" >/dev/null 2>&1; then
      echo "$pm"
      return 0
    fi
  done
  return 1
}

# soname_capability SONAME: the RPM capability of a versioned soname (libgomp.so.1 ->
# libgomp.so.1()(64bit)); fails for anything else (a stem, an unversioned .so).
soname_capability() {
  [[ $1 =~ ^lib[A-Za-z0-9_+-]+\.so(\.[0-9]+)+$ ]] || return 1
  printf '%s()(64bit)\n' "$1"
}

package_installed() {
  case "$1" in
    apt-get) dpkg-query -W -f '${Status}' "$2" 2>/dev/null | grep -q 'install ok installed' ;;
    *) command -v rpm >/dev/null 2>&1 && rpm -q --whatprovides "$2" >/dev/null 2>&1 ;;
  esac
}

# describe_item ITEM: how a message names an install item.
describe_item() {
  if [[ -n ${ASKED_AS[$1]-} ]]; then
    printf '%s (%s)' "${ASKED_AS[$1]}" "$1"
  else
    printf '%s' "$1"
  fi
}

# pm_install PM ITEM...: one install transaction, non-interactive.
pm_install() {
  local pm=$1
  shift
  case "$pm" in
    apt-get)
      DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends -- "$@" ||
        { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends -- "$@"; }
      ;;
    *) "$pm" install -y "$@" ;;
  esac
}

# install_system_packages PM ITEM...: installs the missing ones, as root. An item is a package
# name or, with dnf, microdnf or yum, a soname capability (see above). A package that does not
# exist fails the script, naming it (and, for a library, the SYSTEM_LIBRARIES entry it came from).
install_system_packages() {
  local pm=$1 name
  shift
  local -a missing=() unavailable=()
  for name in "$@"; do
    if [[ $pm != apt-get && $name =~ $RE_SONAME_CAPABILITY ]]; then
      :
    elif [[ ! $name =~ $RE_PACKAGE_NAME ]]; then
      die "$(shown "$name") is not a package name" 2
    fi
    package_installed "$pm" "$name" || missing+=("$name")
  done
  if ((${#missing[@]} == 0)); then
    log "system packages already installed: $*"
    report_capabilities "$pm" "$@"
    return 0
  fi
  if [[ $(id -u) != 0 ]]; then
    die "missing system packages: ${missing[*]}; install them as root (or run this script as root)"
  fi
  log "installing with $pm: ${missing[*]}"
  if ! pm_install "$pm" "${missing[@]}"; then
    # One transaction fails as a whole, and microdnf names only the first item it cannot
    # find: try each item alone to name every one that does not exist.
    warn "$pm could not install them together; trying one at a time to find which fail"
    for name in "${missing[@]}"; do
      package_installed "$pm" "$name" && continue
      pm_install "$pm" "$name" || unavailable+=("$(describe_item "$name")")
    done
    if ((${#unavailable[@]} > 0)); then
      die "$pm could not install: ${unavailable[*]}; no package in this image's repositories provides it, or they could not be reached (see $pm's messages above)"
    fi
  fi
  if [[ $pm != apt-get ]] && command -v rpm >/dev/null 2>&1; then
    for name in "${missing[@]}"; do
      package_installed "$pm" "$name" || unavailable+=("$(describe_item "$name")")
    done
    ((${#unavailable[@]} == 0)) || die "$pm reported success but nothing provides: ${unavailable[*]}"
  fi
  report_capabilities "$pm" "$@"
}

# report_capabilities PM ITEM...: logs the package each soname capability resolved to.
report_capabilities() {
  local pm=$1 name provider
  shift
  [[ $pm != apt-get ]] && command -v rpm >/dev/null 2>&1 || return 0
  for name in "$@"; do
    [[ $name =~ $RE_SONAME_CAPABILITY ]] || continue
    provider=$(rpm -q --whatprovides "$name" 2>/dev/null) || provider=
    provider=${provider%%$'\n'*}
    [[ -n $provider ]] && log "$(describe_item "$name") is provided by $provider"
  done
  return 0
}
