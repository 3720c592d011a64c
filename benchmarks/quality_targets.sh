#!/usr/bin/env bash
# The measured-quality targets of issue 4, each a training run followed by python -m tools.measure on its folder:
#   vae      MLP VAE, dim_z 20, dynamically binarized MNIST, trained long with the learning rate decaying to
#            LR_DECAY times its start; target <= 88 nats by the K = 5000 estimate
#   cvae     the CVAE, CVAE_EPOCHS epochs; target: conditional accuracy of prior samples (cond_acc_prior) >= 0.97
#   denoise  the denoising VAE (no label at test time, like the median filter); target: its PSNR above the 3x3
#            median filter's at noise 0.1, 0.3 and 0.5 (denoise_psnr_*, and switch_denoise_psnr_* for the
#            switching restoration that keeps the grey pixels the noise cannot have made)
# Then one summary table of the three. Needs the classifier (python -m tools.classifier) for cvae and denoise.
# Usage: benchmarks/quality_targets.sh [vae|cvae|denoise|all]   (default all)
# Settings by environment: EPOCHS (vae part, default 1000), LR_DECAY (vae part, default 0.1), CVAE_EPOCHS
# (default 60), LL_K (default 5000), RESULTS (default results/benchmarks).
set -euo pipefail
cd "$(dirname "$0")/.."
PART=${1:-all}
EPOCHS=${EPOCHS:-1000}
LR_DECAY=${LR_DECAY:-0.1}
CVAE_EPOCHS=${CVAE_EPOCHS:-60}
LL_K=${LL_K:-5000}
RESULTS=${RESULTS:-results/benchmarks}
STAMP=$(date +%Y%m%d-%H%M%S)
RUN="nice -n 10 python"

if [[ $PART == vae || $PART == all ]]; then
    name=vae_z20_dynamic_e${EPOCHS}_$STAMP
    $RUN run_main.py --model vae --dim_z 20 --binarize dynamic --num_epochs "$EPOCHS" --lr_decay "$LR_DECAY" \
        --results_path "$RESULTS" --run_name "$name"
    $RUN -m tools.measure "$RESULTS/$name" --ll_k "$LL_K"
fi
if [[ $PART == cvae || $PART == all ]]; then
    name=cvae_z20_e${CVAE_EPOCHS}_$STAMP
    $RUN run_main.py --model cvae --dim_z 20 --num_epochs "$CVAE_EPOCHS" --results_path "$RESULTS" --run_name "$name"
    $RUN -m tools.measure "$RESULTS/$name" --ll_k "$LL_K"
fi
if [[ $PART == denoise || $PART == all ]]; then
    name=vae_z20_noise_$STAMP
    $RUN run_main.py --model vae --dim_z 20 --add_noise --results_path "$RESULTS" --run_name "$name"
    $RUN -m tools.measure "$RESULTS/$name" --ll_k "$LL_K"
fi
python -m tools.summarize "$RESULTS" --out "$RESULTS/summary_$STAMP" --sort test_neg_elbo
