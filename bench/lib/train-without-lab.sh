# Sourced by the benches that hold a lab out through the runner (bench/cross-lab-finetune.sh,
# bench/adapt-with-archive.sh). Reads SETS: more `--set` values for the trainings, separated by ' && '.
#   $labs                                      every lab the labs stage laid out (artifacts/stages/labs/images)
#   train_without_lab <lab> <instance> <log>   runs <instance> fitted on every lab but <lab> (`train.trainLabs`);
#                                              sets $trained_on to those labs, as JSON; exits on failure
labs=$(ls artifacts/stages/labs/images)
sets=()
if [ -n "${SETS:-}" ]; then
  while IFS= read -r s || [ -n "$s" ]; do sets+=(--set "$s"); done < <(printf '%s\n' "$SETS" | sed 's/ && /\n/g')
fi

train_without_lab() {
  local lab=$1 instance=$2 log=$3
  trained_on="[$(printf '%s\n' $labs | grep -vx "$lab" | sed 's/.*/"&"/' | paste -sd, -)]"
  npx pipe run "$instance" --plain --set "train.trainLabs=$trained_on" ${sets[@]+"${sets[@]}"} > "$log" 2>&1 || { echo "FAILED $lab (log: $log)"; tail -5 "$log"; exit 1; }
}
