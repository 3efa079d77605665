# shellcheck shell=bash
# Sourced by the buildspecs' post_build phase: exports the values the build script wrote to
# BUILD_RESULT_FILE (ARTIFACT_SHA256, ARTIFACT_SIZE, UNZIPPED_SIZE), so that CodeBuild's
# exported-variables can return them. Every line is checked before anything is exported.
if [ -z "${BUILD_RESULT_FILE-}" ] || [ ! -f "$BUILD_RESULT_FILE" ]; then
  echo "[result] ERROR: no build result at ${BUILD_RESULT_FILE-<unset>}" >&2
  return 1
fi
while IFS= read -r __result_line || [ -n "$__result_line" ]; do
  case "$__result_line" in
    ARTIFACT_SHA256=*) [[ ${__result_line#*=} =~ ^[0-9a-f]{64}$ ]] || { echo "[result] ERROR: bad line: $__result_line" >&2; return 1; } ;;
    ARTIFACT_SIZE=* | UNZIPPED_SIZE=*) [[ ${__result_line#*=} =~ ^[0-9]+$ ]] || { echo "[result] ERROR: bad line: $__result_line" >&2; return 1; } ;;
    *) echo "[result] ERROR: unexpected line in the build result: $__result_line" >&2; return 1 ;;
  esac
  export "${__result_line%%=*}=${__result_line#*=}"
  echo "[result] ${__result_line}"
done <"$BUILD_RESULT_FILE"
unset __result_line
