"""Pieces of the training loop that need no training run."""
import math

import pytest

from training.flags import parse_args
from training.loop import make_optimizer


@pytest.mark.parametrize("decay", [1.0, 0.1])
def test_lr_decay_falls_exponentially_to_its_fraction_at_the_last_step(decay):
    cfg = vars(parse_args(["--learn_rate", "0.002", "--num_epochs", "4", "--lr_decay", str(decay)]))
    optimizer = make_optimizer(cfg, steps_per_epoch=25)  # 100 steps in all
    for step, expected in ((0, 0.002), (50, 0.002 * math.sqrt(decay)), (100, 0.002 * decay)):
        optimizer.iterations.assign(step)
        assert float(optimizer.learning_rate) == pytest.approx(expected, rel=1e-6)
