#!/usr/bin/env bash
# Measures settings under the leave-one-lab-out protocol: for each argument (one `--set` value, or several
# separated by ' && ') reruns what it changes up to cross-lab[arch=mobilenet_v1_0.25] at k = 0 through the
# runner (unchanged stages stay cached) and prints the mean and per-lab held-out figures, one table row each
# (as trained / AdaBN, and / self-trained with the self-trained mean where the stage self-trains).
#   bench/cross-lab-set.sh 'normalize.maxGain=2' 'normalize.blurSigma=3 && normalize.maxGain=2'
# Run it in a workspace where `npx pipe run` has finished; it leaves the last variant published (a plain
# `npx pipe run` restores the default from the store).
set -euo pipefail
arch=${ARCH:-mobilenet_v1_0.25}
for v in "$@"; do
  t0=$(date +%s)
  log=$(mktemp)
  sets=()
  while IFS= read -r s || [ -n "$s" ]; do sets+=(--set "$s"); done < <(printf '%s\n' "$v" | sed 's/ && /\n/g')
  if ! npx pipe run "cross-lab[arch=$arch]" --plain "${sets[@]}" --set 'cross-lab.curve=[0]' >"$log" 2>&1; then
    echo "FAILED $v (log: $log)"; tail -5 "$log"; continue
  fi
  python3 - "$v" $(( $(date +%s) - t0 )) "artifacts/stages/cross-lab[arch=$arch]/cross-lab.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[3]))
f = lambda x: 'n/a' if x is None else f'{100 * x:.1f}%'
m = r['mean']
print(f"| `{sys.argv[1]}` | {sys.argv[2]} s | {f(m['asTrained']['accuracy'])} | {f(m['asTrained']['balancedAccuracy'])} | "
      f"{f(m['adapted']['accuracy'])} | **{f(m['adapted']['balancedAccuracy'])}** | "
      + ' · '.join(f"{h['lab']} {f(h['asTrained']['balancedAccuracy'])} / {f(h['adapted']['balancedAccuracy'])}"
                   + (f" / {f(h['selfTrained']['balancedAccuracy'])}" if h.get('selfTrained') else '') for h in r['heldOut'])
      + (f" | self-trained **{f(m['selfTrained']['balancedAccuracy'])}**" if m.get('selfTrained') else '') + ' |', flush=True)
PY
  rm -f "$log"
done
