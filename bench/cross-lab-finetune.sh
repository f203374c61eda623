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
source "$(dirname "$0")/lib/train-without-lab.sh"
out=$(mktemp -d)
for lab in $labs; do
  t0=$(date +%s)
  train_without_lab "$lab" "$instance" "$out/$lab-run.log"
  for adapt in none adabn self-training; do
    npx pipe predict --model "$instance" --adapt "$adapt" --out "$out/$lab-$adapt" "artifacts/stages/labs/images/$lab" > "$out/$lab-$adapt.log" 2>&1
  done
  echo "$lab: trained on $trained_on and predicted in $(( $(date +%s) - t0 )) s" >&2
done
PYTHONPATH="$(dirname "$0")/lib" python3 - "$out" $labs <<'PY'
import sys
from prediction_scores import pct as f, score as score_paths
out, labs = sys.argv[1], sys.argv[2:]
score = lambda path, lab: score_paths([path], lambda file: file.split(f'/{lab}/', 1)[1].split('/')[0])
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
