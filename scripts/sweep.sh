#!/usr/bin/env bash
# Example sweep on one machine: runs with different flags, in parallel, each writing its own folder under
# one results path (run folders are made with an atomic mkdir, so parallel runs never collide).
#   scripts/sweep.sh                                       # 2 models x 2 latent sizes, 20 epochs each
#   EPOCHS=1 N_TRAIN=1000 JOBS=2 scripts/sweep.sh results/smoke_sweep
# Each run's output goes to RESULTS/NAME.log. A run that dies or is killed can be continued from its last
# checkpoint with: python run_main.py --resume RESULTS/NAME. Ctrl-C or SIGTERM stops every run at its next
# checkpoint (each prints its --resume line in its log) and the script exits 130 or 143.
set -uo pipefail
cd "$(dirname "$0")/.."
RESULTS=${1:-results/sweep_$(date +%Y%m%d-%H%M%S)}
EPOCHS=${EPOCHS:-20}
N_TRAIN=${N_TRAIN:-60000}
JOBS=${JOBS:-$(nproc)}  # runs at a time; each TensorFlow run uses every core it is given

fail() { echo "sweep.sh: $1" >&2; exit 2; }
whole() { [[ $2 =~ ^[0-9]+$ ]] && (( 10#$2 >= $3 && 10#$2 <= $4 )) || fail "$1 must be a whole number from $3 to $4, got '$2'"; }
whole JOBS "$JOBS" 1 256
whole EPOCHS "$EPOCHS" 1 100000
whole N_TRAIN "$N_TRAIN" 1 60000
if [[ -L $RESULTS && ! -e $RESULTS ]]; then fail "$RESULTS is a symbolic link to a missing folder (or a loop)"; fi
mkdir -p "$(dirname "$RESULTS")" || fail "cannot make the folder of $RESULTS"
mkdir "$RESULTS" 2>/dev/null || fail "$RESULTS exists already or cannot be made; a sweep writes a new folder"

stop() {  # Ctrl-C or SIGTERM: every run checkpoints and stops; the script reports and exits 128 + the signal
  trap '' INT TERM
  kill -TERM $(jobs -rp) 2>/dev/null
  wait
  echo "sweep.sh: stopped; continue each run with: python run_main.py --resume $RESULTS/NAME" >&2
  exit "$1"
}
trap 'stop 130' INT
trap 'stop 143' TERM

run() {  # one run, named $1; the other arguments are its flags. SIGTERM reaches the run; Ctrl-C reaches it directly
  local name=$1 pid status; shift
  python run_main.py "$@" --results_path "$RESULTS" --run_name "$name" > "$RESULTS/$name.log" 2>&1 &
  pid=$!
  trap '' INT
  trap 'kill -TERM $pid 2>/dev/null' TERM
  while :; do wait "$pid"; status=$?; kill -0 "$pid" 2>/dev/null || break; done
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
