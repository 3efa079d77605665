#!/usr/bin/env bash
# Text that no input can turn into something else, for the workflows.
#
#   log-text.sh quote FILE       FILE for a job log, between ::stop-commands::TOKEN and ::TOKEN::
#                                with a random TOKEN that FILE does not contain, so no line of it
#                                is read as a workflow command (the runner reads `::name::` at the
#                                start of a line, blanks trimmed, and `##[name]` anywhere in one).
#   log-text.sh fence FILE [N]   the first N lines of FILE (default 60) as a markdown code block
#                                whose fence is longer than any run of backticks in FILE, so the
#                                text cannot close it and go on as markdown of its own.
set -euo pipefail

token() { od -An -N16 -tx1 /dev/urandom | tr -d ' \n'; }

case "${1:-}" in
  quote)
    file="$2"
    t="$(token)"
    while grep -qiF -- "$t" "$file"; do t="$(token)"; done
    echo "::stop-commands::$t"
    awk 1 "$file"
    echo "::$t::"
    ;;
  fence)
    file="$2"
    fence='```'
    while grep -qF -- "$fence" "$file"; do fence="$fence"'`'; done
    echo "${fence}text"
    head -n "${3:-60}" "$file" | awk 1
    echo "$fence"
    ;;
  *)
    echo "usage: log-text.sh quote FILE | log-text.sh fence FILE [LINES]" >&2
    exit 2
    ;;
esac
