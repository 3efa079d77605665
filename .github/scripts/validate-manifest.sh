#!/usr/bin/env bash
# Validates layers.yaml before any credentials: plans it against no published state. Problems
# become annotations on the lines of layers.yaml; the output `body` names a markdown file for the
# pull request when the manifest is invalid. Needs RUNNER_TEMP and GITHUB_OUTPUT (a workflow step).
#
# Nothing the manifest says can become a workflow command or markdown of its own: the pipeline's
# text is quoted (log-text.sh), and the annotations are only the lines the run prints because it is
# in GitHub Actions: a second run outside it prints the same text without them, so text a manifest
# shaped like an annotation is in both runs and never passes.
set -euo pipefail
here="$(dirname "$0")"
state="$RUNNER_TEMP/no-published-state"
mkdir -p "$state"
validate=(npx tsx pipeline/plan.ts --backend local --state "$state" --format json)

status=0
"${validate[@]}" >/dev/null 2>"$RUNNER_TEMP/validate.err" || status=$?
if [ "$status" -eq 0 ]; then
  bash "$here/log-text.sh" quote "$RUNNER_TEMP/validate.err"
  exit 0
fi

env -u GITHUB_ACTIONS "${validate[@]}" >/dev/null 2>"$RUNNER_TEMP/validate.txt" || true
bash "$here/log-text.sh" quote "$RUNNER_TEMP/validate.txt"
if [ -s "$RUNNER_TEMP/validate.txt" ]; then
  grep -Fvx -f "$RUNNER_TEMP/validate.txt" "$RUNNER_TEMP/validate.err" | grep -E '^::(error|warning) file=' || true
fi
{
  echo "### r-lambda-layers plan"
  echo
  echo ":x: **The manifest is invalid**: nothing was planned. The problems are annotated on \`layers.yaml\` under *Files changed*."
  echo
  bash "$here/log-text.sh" fence "$RUNNER_TEMP/validate.txt"
} >"$RUNNER_TEMP/plan.md"
echo "body=$RUNNER_TEMP/plan.md" >>"$GITHUB_OUTPUT"
exit "$status"
