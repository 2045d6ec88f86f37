#!/usr/bin/env bash
# Size budget of `tokenwarden/react`: gzip -9 of pkg/react.js, what the bindings add to a page
# (React itself not counted: a peer dependency the app already loads). Fails above the budget.
# Usage: scripts/size-budget-react.sh [PKG_DIR]   (default pkg/, built by `make pkg`)
# Budget: SIZE_BUDGET_REACT, a ratchet a little above the measured 1,178 B (December 2026); the
# issue's limit, 2,048 B, is the goal.
set -euo pipefail
cd "$(dirname "$0")/.."
DIR=${1:-pkg}
BUDGET=${SIZE_BUDGET_REACT:-1300}  # measured 1,178 B; goal 2,048 B
[ -f "$DIR/react.js" ] || { echo "size: $DIR/react.js is missing: build the package (make pkg)" >&2; exit 1; }
size=$(gzip -9c "$DIR/react.js" | wc -c)
printf 'size: %-9s %6d bytes gzip (react.js, React not counted); budget %d, goal 2048\n' react "$size" "$BUDGET"
if [ "$size" -gt "$BUDGET" ]; then
  echo "size: tokenwarden/react is over its budget by $((size - BUDGET)) bytes" >&2
  exit 1
fi
