#!/usr/bin/env bash
# The measured-quality targets of issue 4, each a training run followed by measure.py on its folder:
#   vae      MLP VAE, dim_z 20, dynamically binarized MNIST, trained long; target <= 88 nats by the K = 5000 estimate
#   cvae     the default CVAE; target: conditional accuracy of prior samples (cond_acc_prior) >= 0.97
#   denoise  the denoising CVAE; target: denoise_psnr above median_psnr at noise 0.1, 0.3 and 0.5
# Then one summary table of the three. Needs the classifier (python classifier.py) for cvae and denoise.
# Usage: benchmarks/quality_targets.sh [vae|cvae|denoise|all]   (default all)
# Settings by environment: EPOCHS (vae part, default 1000), LL_K (default 5000), RESULTS (default results/benchmarks).
set -euo pipefail
cd "$(dirname "$0")/.."
PART=${1:-all}
EPOCHS=${EPOCHS:-1000}
LL_K=${LL_K:-5000}
RESULTS=${RESULTS:-results/benchmarks}
STAMP=$(date +%Y%m%d-%H%M%S)
RUN="nice -n 10 python"

if [[ $PART == vae || $PART == all ]]; then
    name=vae_z20_dynamic_e${EPOCHS}_$STAMP
    $RUN run_main.py --model vae --dim_z 20 --binarize dynamic --num_epochs "$EPOCHS" \
        --results_path "$RESULTS" --run_name "$name"
    $RUN measure.py "$RESULTS/$name" --ll_k "$LL_K"
fi
if [[ $PART == cvae || $PART == all ]]; then
    name=cvae_z20_$STAMP
    $RUN run_main.py --model cvae --dim_z 20 --results_path "$RESULTS" --run_name "$name"
    $RUN measure.py "$RESULTS/$name" --ll_k "$LL_K"
fi
if [[ $PART == denoise || $PART == all ]]; then
    name=cvae_z20_noise_$STAMP
    $RUN run_main.py --model cvae --dim_z 20 --add_noise --results_path "$RESULTS" --run_name "$name"
    $RUN measure.py "$RESULTS/$name" --ll_k "$LL_K" --cas_n 0
fi
python summarize.py "$RESULTS" --out "$RESULTS/summary_$STAMP" --sort test_neg_elbo
