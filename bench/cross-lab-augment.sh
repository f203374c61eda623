#!/usr/bin/env bash
# Measures augmentation methods under the leave-one-lab-out protocol: for each augment.photometric value
# (JSON; `null` = none) reruns augment → features → cross-lab[arch=mobilenet_v1_0.25] at k = 0 through
# the runner (segment and normalize stay cached) and prints the mean and per-lab held-out figures.
#   bench/cross-lab-augment.sh null '{"stain":{"sigma":0.05,"bias":0.05}}'
# Run it in a workspace where `npx pipe run` has finished; it leaves the last variant published.
set -euo pipefail
args=()
for v in "$@"; do args+=("augment.photometric=$v"); done
exec "$(dirname "$0")/cross-lab-set.sh" "${args[@]}"
