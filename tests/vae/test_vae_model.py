"""The VAE's and the CVAE's loss terms against a float64 numpy forward pass; the label and the denoiser's target."""
import numpy as np
import pytest

import tf_setup  # noqa: F401
from keras import ops

from cvae.model import CVAE
from data.noise import salt_and_pepper
from vae.losses import bernoulli_nll
from vae.model import VAE


def np_(t):
    return np.asarray(ops.convert_to_numpy(t), dtype=np.float64)


def _numpy_forward(model, x, y, eps):
    """The model's negative ELBO computed by hand from its weights, in float64."""
    def dense_stack(net, h):
        acts = [lambda a: np.where(a > 0, a, np.expm1(np.minimum(a, 0))), np.tanh]
        dense = [l for l in net.layers]
        for layer, act in zip(dense, [acts[0], acts[1], None] if net.name == "encoder" else [acts[1], acts[0], None]):
            w, b = (np.asarray(v, np.float64) for v in layer.get_weights())
            h = h @ w + b
            h = act(h) if act is not None else h
        return h
    cond = (lambda h: np.concatenate([h, y], -1)) if model.n_classes else (lambda h: h)
    out = dense_stack(model.encoder, cond(x.astype(np.float64)))
    mu, std = out[:, :model.dim_z], np.log1p(np.exp(out[:, model.dim_z:])) + 1e-6
    z = mu + std * eps
    p = 1 / (1 + np.exp(-dense_stack(model.decoder, cond(z))))
    recon = -(x * np.log(p) + (1 - x) * np.log(1 - p)).sum(-1)
    kl = 0.5 * (mu ** 2 + std ** 2 - 1 - 2 * np.log(std)).sum(-1)
    return recon, kl


@pytest.mark.parametrize("cls", [VAE, CVAE])
def test_model_elbo_matches_hand_computation(cls):
    rng = np.random.default_rng(2)
    model = cls(dim_z=3, n_hidden=7)
    x = rng.uniform(size=(5, 784)).astype(np.float32)
    y = np.eye(10, dtype=np.float32)[rng.integers(0, 10, 5)]
    eps = rng.standard_normal((5, 3)).astype(np.float32)
    terms = model.loss_terms(x, x, y, eps)
    recon, kl = _numpy_forward(model, x, y, eps)
    np.testing.assert_allclose(np_(terms["recon"]), recon, rtol=1e-4)
    np.testing.assert_allclose(np_(terms["kl"]), kl, rtol=1e-4, atol=1e-5)


def test_cvae_decoder_depends_on_label():
    model = CVAE(dim_z=2, n_hidden=8)
    z = np.zeros((2, 2), np.float32)
    y = np.eye(10, dtype=np.float32)[[3, 7]]
    out = np_(model.decode(z, y))
    assert not np.allclose(out[0], out[1])


def test_denoiser_loss_targets_the_clean_image():
    rng = np.random.default_rng(3)
    model = VAE(dim_z=2, n_hidden=8)
    clean = rng.uniform(size=(4, 784)).astype(np.float32)
    noisy = np.asarray(ops.convert_to_numpy(salt_and_pepper(clean, rng.random(clean.shape, dtype=np.float32), 0.5)))
    eps = np.zeros((4, 2), np.float32)
    z_mean, _ = model.encode(noisy)
    expected = bernoulli_nll(clean, model.decode(z_mean))
    got = model.loss_terms(noisy, clean, None, eps)["recon"]
    np.testing.assert_allclose(ops.convert_to_numpy(got), ops.convert_to_numpy(expected), rtol=1e-5)
    against_noisy = ops.convert_to_numpy(bernoulli_nll(noisy, model.decode(z_mean)))
    assert not np.allclose(ops.convert_to_numpy(got), against_noisy)
