"""Pieces of the training loop that need no training run."""
import math

import pytest

import config
import train


@pytest.mark.parametrize("decay", [1.0, 0.1])
def test_lr_decay_falls_exponentially_to_its_fraction_at_the_last_step(decay):
    cfg = vars(config.parse_args(["--learn_rate", "0.002", "--num_epochs", "4", "--lr_decay", str(decay)]))
    optimizer = train.make_optimizer(cfg, steps_per_epoch=25)  # 100 steps in all
    for step, expected in ((0, 0.002), (50, 0.002 * math.sqrt(decay)), (100, 0.002 * decay)):
        optimizer.iterations.assign(step)
        assert float(optimizer.learning_rate) == pytest.approx(expected, rel=1e-6)


@pytest.mark.parametrize("model", ["vae", "cvae", "m2", "m1m2"])
def test_activation_flag_sets_every_two_layer_network(model):
    from config import ACTIVATIONS as NAMES, parse_args
    from train import build_model
    from vae.model import ACTIVATIONS
    assert tuple(ACTIVATIONS) == NAMES  # the CLI's choices are the ones the models know
    cfg = vars(parse_args(["--model", model, "--activation", "softplus", "--n_hidden", "8", "--dim_z", "2",
                           "--m1_dim_z", "3"]))
    built = build_model(cfg)
    parts = [built.m1, built.m2] if model == "m1m2" else [built]
    nets = [getattr(part, name) for part in parts for name in ("encoder", "decoder", "classifier") if hasattr(part, name)]
    assert len(nets) == {"vae": 2, "cvae": 2, "m2": 3, "m1m2": 5}[model]
    for net in nets:
        hidden = net.layers[:-1]
        assert len(hidden) == 2 and all(layer.activation.__name__ == "softplus" for layer in hidden)
    cfg.pop("activation")  # a run saved before the flag keeps the original runner's elu and tanh
    old = build_model(config.with_flag_defaults(cfg))
    encoder = old.m1.encoder if model == "m1m2" else old.encoder
    assert [layer.activation.__name__ for layer in encoder.layers[:-1]] == ["elu", "tanh"]
