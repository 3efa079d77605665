#!/usr/bin/env bash
# Installs what compiling R needs (the buildspec's install phase; run as root).
# Inputs: ARTIFACT_STORE (the AWS CLI is installed only for an s3:// store).
# shellcheck source-path=SCRIPTDIR/../common
set -euo pipefail
COMMON_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/../common" && pwd)
LOG_TAG="r-deps"
# shellcheck source=lib.sh
. "$COMMON_DIR/lib.sh"
# shellcheck source=system-packages.sh
. "$COMMON_DIR/system-packages.sh"

pm=$(package_manager) || die "no supported package manager (dnf, microdnf, yum, apt-get) found"
case "$pm" in
  apt-get)
    packages=(gcc g++ gfortran make perl xz-utils tar gzip zip unzip binutils curl ca-certificates
      libbz2-dev liblzma-dev libpcre2-dev libcurl4-openssl-dev zlib1g-dev)
    ;;
  *)
    packages=(gcc gcc-c++ gcc-gfortran make perl xz tar gzip zip unzip binutils findutils glibc-common
      bzip2-devel xz-devel pcre2-devel libcurl-devel zlib-devel)
    [[ ${ARTIFACT_STORE-} == s3://* ]] && packages+=(awscli-2)
    ;;
esac
install_system_packages "$pm" "${packages[@]}"
