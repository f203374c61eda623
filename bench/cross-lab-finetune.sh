#!/usr/bin/env bash
# Leave one lab out for a mode the cross-lab stage does not cover (it fits heads on cached features): for each
# lab L, `train[arch=…,mode=…]` fitted on the other labs only (`train.trainLabs`), then `pipe predict` on all
# of L's cells (labs/images/L, as the labs stage lays them out), as trained, with AdaBN and after self-training
# (`--adapt none|adabn|self-training`); prints per-lab accuracy / balanced accuracy and the mean, one table row per lab.
# MODE=transfer checks the cross-lab stage's cached-feature figures through predict's whole path on raw images.
#   bench/cross-lab-finetune.sh                      (MobileNet α=0.25 fine-tuned, the default run's settings)
#   ARCH=resnet50 MODE=transfer bench/cross-lab-finetune.sh
#   SETS='train.seed=2' bench/cross-lab-finetune.sh  (more `--set` values for the trainings, separated by ' && ')
# Run it in a workspace where `npx pipe run` has finished; it leaves the last model published (a plain
# `npx pipe run` restores the default from the store).
set -euo pipefail
arch=${ARCH:-mobilenet_v1_0.25}
mode=${MODE:-finetune}
instance="train[arch=$arch,mode=$mode]"
labs=$(ls artifacts/stages/labs/images)
out=$(mktemp -d)
extra=()
if [ -n "${SETS:-}" ]; then
  while IFS= read -r s || [ -n "$s" ]; do extra+=(--set "$s"); done < <(printf '%s\n' "$SETS" | sed 's/ && /\n/g')
fi
for lab in $labs; do
  others=$(printf '%s\n' $labs | grep -vx "$lab" | sed 's/.*/"&"/' | paste -sd, -)
  t0=$(date +%s)
  npx pipe run "$instance" --plain --set "train.trainLabs=[$others]" ${extra[@]+"${extra[@]}"} > "$out/$lab-run.log" 2>&1 || { echo "FAILED $lab (log: $out/$lab-run.log)"; tail -5 "$out/$lab-run.log"; exit 1; }
  for adapt in none adabn self-training; do
    npx pipe predict --model "$instance" --adapt "$adapt" --out "$out/$lab-$adapt" "artifacts/stages/labs/images/$lab" > "$out/$lab-$adapt.log" 2>&1
  done
  echo "$lab: trained on [$others] and predicted in $(( $(date +%s) - t0 )) s" >&2
done
python3 - "$out" $labs <<'PY'
import csv, sys
out, labs = sys.argv[1], sys.argv[2:]
def score(path, lab):
    rows = list(csv.DictReader(open(path)))
    truth = lambda r: r['file'].replace('\\', '/').split(f'/{lab}/', 1)[1].split('/')[0]
    classes = sorted({truth(r) for r in rows})
    hits = [truth(r) == r['predicted'] for r in rows]
    recall = [sum(h for r, h in zip(rows, hits) if truth(r) == c) / sum(truth(r) == c for r in rows) for c in classes]
    return sum(hits) / len(rows), sum(recall) / len(recall), len(rows)
f = lambda x: f'{100 * x:.1f}%'
print('| held-out lab | cells | accuracy | balanced | AdaBN accuracy | AdaBN balanced | self-trained accuracy | self-trained balanced |\n|---|--:|--:|--:|--:|--:|--:|--:|')
means = [[], [], [], [], [], []]
for lab in labs:
    a, b, n = score(f'{out}/{lab}-none/predictions.csv', lab)
    c, d, _ = score(f'{out}/{lab}-adabn/predictions.csv', lab)
    e, g, _ = score(f'{out}/{lab}-self-training/predictions.csv', lab)
    for m, v in zip(means, (a, b, c, d, e, g)): m.append(v)
    print(f'| {lab} | {n} | {f(a)} | {f(b)} | {f(c)} | {f(d)} | {f(e)} | {f(g)} |')
print('| **mean** | | ' + ' | '.join(f(sum(m) / len(m)) for m in means) + ' |')
PY
