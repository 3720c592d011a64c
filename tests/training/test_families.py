"""The registry of model families: the model each --model builds from the flags, and a finished run reloaded."""
import json

import numpy as np
import pytest

from training import flags
from training.families import FAMILIES, load_trained_model


@pytest.mark.parametrize("model", ["vae", "cvae", "m2", "m1m2"])
def test_activation_flag_sets_every_two_layer_network(model):
    from vae.model import ACTIVATIONS
    assert tuple(ACTIVATIONS) == flags.ACTIVATIONS  # the CLI's choices are the ones the models know
    cfg = vars(flags.parse_args(["--model", model, "--activation", "softplus", "--n_hidden", "8", "--dim_z", "2",
                                 "--m1_dim_z", "3"]))
    built = FAMILIES[cfg["model"]].build_model(cfg)
    parts = [built.m1, built.m2] if model == "m1m2" else [built]
    nets = [getattr(part, name) for part in parts for name in ("encoder", "decoder", "classifier") if hasattr(part, name)]
    assert len(nets) == {"vae": 2, "cvae": 2, "m2": 3, "m1m2": 5}[model]
    for net in nets:
        hidden = net.layers[:-1]
        assert len(hidden) == 2 and all(layer.activation.__name__ == "softplus" for layer in hidden)
    cfg.pop("activation")  # a run saved before the flag keeps the original runner's elu and tanh
    old = FAMILIES[cfg["model"]].build_model(flags.with_flag_defaults(cfg))
    encoder = old.m1.encoder if model == "m1m2" else old.encoder
    assert [layer.activation.__name__ for layer in encoder.layers[:-1]] == ["elu", "tanh"]


def test_every_model_is_built_from_the_flags_by_its_family():
    assert set(FAMILIES) == set(flags.MODELS)
    for name, family in FAMILIES.items():
        cfg = vars(flags.parse_args(["--model", name, "--dim_z", "3", "--n_hidden", "8", "--m1_dim_z", "4"]))
        model = family.build_model(cfg)
        assert type(model) is family.model and model.dim_z == 3 and model.n_hidden == 8
        assert (model.n_classes > 0) == flags.MODELS[name].conditioned
        assert hasattr(model, "classify") == flags.MODELS[name].semi_supervised


@pytest.mark.slow
def test_trained_model_reloads_from_its_run_folder(finished_run):
    from data.prepare import load_run_data
    from evaluation.metrics import evaluate, make_evaluate
    cfg, model = load_trained_model(finished_run)
    data = load_run_data(cfg)
    terms = evaluate(make_evaluate(model), data.x_test_in, data.x_test, data.y_test, data.eps_test)
    saved = json.loads((finished_run / "metrics.json").read_text())
    np.testing.assert_allclose(terms["loss"], saved["test_neg_elbo"], rtol=1e-5)
