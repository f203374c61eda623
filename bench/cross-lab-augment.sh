#!/usr/bin/env bash
# Measures augmentation methods under the leave-one-lab-out protocol: for each augment.photometric value
# (JSON; `null` = none) reruns augment → features → cross-lab[arch=mobilenet_v1_0.25] at k = 0 through
# the runner (segment and normalize stay cached) and prints the mean and per-lab held-out figures.
#   bench/cross-lab-augment.sh null '{"stain":{"sigma":0.05,"bias":0.05}}'
# Run it in a workspace where `npx pipe run` has finished; it leaves the last variant published.
set -euo pipefail
arch=${ARCH:-mobilenet_v1_0.25}
for v in "$@"; do
  t0=$(date +%s)
  log=$(mktemp)
  if ! npx pipe run "cross-lab[arch=$arch]" --plain --set "augment.photometric=$v" --set 'cross-lab.curve=[0]' >"$log" 2>&1; then
    echo "FAILED $v (log: $log)"; tail -5 "$log"; continue
  fi
  python3 - "$v" $(( $(date +%s) - t0 )) "artifacts/stages/cross-lab[arch=$arch]/cross-lab.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[3]))
f = lambda x: 'n/a' if x is None else f'{100 * x:.1f}%'
m = r['mean']
print(f"| `{sys.argv[1]}` | {sys.argv[2]} s | {f(m['asTrained']['accuracy'])} | {f(m['asTrained']['balancedAccuracy'])} | "
      f"{f(m['adapted']['accuracy'])} | **{f(m['adapted']['balancedAccuracy'])}** | "
      + ' · '.join(f"{h['lab']} {f(h['asTrained']['balancedAccuracy'])} / {f(h['adapted']['balancedAccuracy'])}" for h in r['heldOut']) + ' |', flush=True)
PY
  rm -f "$log"
done
