#!/usr/bin/env bash
# Example sweep on one machine: runs with different flags, in parallel, each writing its own folder under
# one results path (run folders are made with an atomic mkdir, so parallel runs never collide).
#   scripts/sweep.sh                                       # 2 models x 2 latent sizes, 20 epochs each
#   EPOCHS=1 N_TRAIN=1000 JOBS=2 scripts/sweep.sh results/smoke_sweep
# Each run's output goes to RESULTS/NAME.log. A run that dies or is killed can be continued from its last
# checkpoint with: python run_main.py --resume RESULTS/NAME
set -uo pipefail
cd "$(dirname "$0")/.."
RESULTS=${1:-results/sweep_$(date +%Y%m%d-%H%M%S)}
EPOCHS=${EPOCHS:-20}
N_TRAIN=${N_TRAIN:-60000}
JOBS=${JOBS:-$(nproc)}  # runs at a time; each TensorFlow run uses every core it is given
mkdir -p "$(dirname "$RESULTS")"
mkdir "$RESULTS" || { echo "sweep.sh: $RESULTS exists already; a sweep writes a new folder" >&2; exit 2; }

run() {  # one run, named $1; the other arguments are its flags
  local name=$1; shift
  python run_main.py "$@" --results_path "$RESULTS" --run_name "$name" > "$RESULTS/$name.log" 2>&1
  local status=$?
  (( status == 0 )) || echo "FAILED (exit $status): $name, see $RESULTS/$name.log" >> "$RESULTS/failed.txt"
}

for model in vae cvae; do
  for dim_z in 2 20; do
    while (( $(jobs -rp | wc -l) >= JOBS )); do wait -n; done
    run "${model}_z${dim_z}" --model "$model" --dim_z "$dim_z" --num_epochs "$EPOCHS" --n_train "$N_TRAIN" &
  done
done
wait
if [[ -s "$RESULTS/failed.txt" ]]; then cat "$RESULTS/failed.txt"; exit 1; fi
echo "all runs finished; run folders and logs in $RESULTS"
