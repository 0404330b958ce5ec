#!/usr/bin/env bash
# Prints the median (ns) of every benchmark of the last criterion run whose group name
# starts with $1 (e.g. `benches/medians.sh propagation`), read from
# target/criterion/<group>/<function>/new/estimates.json.
set -euo pipefail
prefix="${1:?usage: medians.sh <group-prefix>}"
root="$(cargo metadata --format-version 1 --no-deps | jq -r .target_directory)/criterion"
find "$root" -path "*/new/estimates.json" | sort | while read -r file; do
  name="${file#"$root"/}"
  name="${name%/new/estimates.json}"
  case "$name" in
    "$prefix"*) printf '%-55s %12.1f\n' "$name" "$(jq .median.point_estimate "$file")" ;;
  esac
done
