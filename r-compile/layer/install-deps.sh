#!/usr/bin/env bash
# Installs what building a layer needs (the buildspec's install phase; run as root): the
# compilers packages with compiled code use, zip tools, ldd and strip, and the AWS CLI for an
# s3:// store. On dnf systems (dnf, microdnf, yum), each library named by a versioned soname in
# SYSTEM_LIBRARIES is installed too if missing, as its RPM capability: `libgomp.so.1` becomes
# `libgomp.so.1()(64bit)`, which the package manager resolves to the package that ships it
# (libgomp); one that no package provides fails here, naming it. Stems (`libgfortran`) are not
# installed: they are bundled if something installed them. On apt systems nothing is installed
# for SYSTEM_LIBRARIES.
# shellcheck source-path=SCRIPTDIR/../common
set -euo pipefail
COMMON_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/../common" && pwd)
LOG_TAG="layer-deps"
# shellcheck source=lib.sh
. "$COMMON_DIR/lib.sh"
# shellcheck source=system-packages.sh
. "$COMMON_DIR/system-packages.sh"

declare -a system_libraries=()
require_list SYSTEM_LIBRARIES "$RE_SYSTEM_LIBRARY" "shared library name (libfoo or libfoo.so.1)" system_libraries

pm=$(package_manager) || die "no supported package manager (dnf, microdnf, yum, apt-get) found"
case "$pm" in
  apt-get)
    packages=(gcc g++ gfortran make tar gzip zip unzip binutils libc-bin)
    ;;
  *)
    packages=(gcc gcc-c++ gcc-gfortran make tar gzip zip unzip binutils findutils glibc-common)
    [[ ${ARTIFACT_STORE-} == s3://* ]] && packages+=(awscli-2)
    for lib in "${system_libraries[@]}"; do
      if capability=$(soname_capability "$lib"); then
        packages+=("$capability")
        ASKED_AS[$capability]="SYSTEM_LIBRARIES $lib"
      else
        log "SYSTEM_LIBRARIES $lib: not a versioned soname, so no package is installed for it; it is bundled if the image has it"
      fi
    done
    ;;
esac
install_system_packages "$pm" "${packages[@]}"
