# shellcheck shell=bash
# Installs system packages with the machine's package manager: dnf (or microdnf, yum) on
# Amazon Linux 2023, apt-get on Debian and Ubuntu. Packages already installed are left alone,
# so on a prepared machine this changes nothing. Sourced after lib.sh.

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

package_installed() {
  case "$1" in
    apt-get) dpkg-query -W -f '${Status}' "$2" 2>/dev/null | grep -q 'install ok installed' ;;
    *) rpm -q --whatprovides "$2" >/dev/null 2>&1 ;;
  esac
}

# install_system_packages PM NAME...: installs the missing ones, as root.
install_system_packages() {
  local pm=$1 name
  shift
  local -a missing=()
  for name in "$@"; do
    [[ $name =~ ^[A-Za-z0-9][A-Za-z0-9._+-]*$ ]] || die "$(shown "$name") is not a package name" 2
    package_installed "$pm" "$name" || missing+=("$name")
  done
  if ((${#missing[@]} == 0)); then
    log "system packages already installed: $*"
    return 0
  fi
  if [[ $(id -u) != 0 ]]; then
    die "missing system packages: ${missing[*]}; install them as root (or run this script as root)"
  fi
  log "installing with $pm: ${missing[*]}"
  case "$pm" in
    apt-get)
      DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends -- "${missing[@]}" ||
        { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends -- "${missing[@]}"; } ||
        die "apt-get could not install: ${missing[*]}"
      ;;
    *)
      "$pm" install -y "${missing[@]}" || die "$pm could not install: ${missing[*]}"
      ;;
  esac
}
