"""The negative ELBO's pieces (vae.losses) against Monte Carlo and hand computations."""
import numpy as np

import tf_setup  # noqa: F401
from keras import ops

from vae.losses import bernoulli_nll, gaussian_kl, negative_elbo, reparameterize


def np_(t):
    return np.asarray(ops.convert_to_numpy(t), dtype=np.float64)


def test_kl_matches_monte_carlo_estimate():
    rng = np.random.default_rng(0)
    z_mean = rng.normal(size=(3, 4)).astype(np.float32)
    z_std = rng.uniform(0.3, 2.0, size=(3, 4)).astype(np.float32)
    n = 400_000
    z = z_mean + z_std * rng.standard_normal((n, 3, 4))
    log_q = -0.5 * (((z - z_mean) / z_std) ** 2 + 2 * np.log(z_std) + np.log(2 * np.pi))
    log_p = -0.5 * (z ** 2 + np.log(2 * np.pi))
    mc = (log_q - log_p).sum(-1).mean(0)
    analytic = np_(gaussian_kl(z_mean, z_std))
    assert analytic.shape == (3,)
    np.testing.assert_allclose(analytic, mc, rtol=0.02, atol=0.02)


def test_kl_is_zero_at_the_prior():
    np.testing.assert_allclose(np_(gaussian_kl(np.zeros((2, 5), np.float32), np.ones((2, 5), np.float32))), 0, atol=1e-6)


def test_bernoulli_nll_by_hand_and_finite_at_extremes():
    x = np.array([[0.0, 1.0, 0.25]], np.float32)
    logits = np.array([[-2.0, 3.0, 0.5]], np.float32)
    p = 1 / (1 + np.exp(-logits.astype(np.float64)))
    by_hand = -(x * np.log(p) + (1 - x) * np.log(1 - p)).sum(-1)
    np.testing.assert_allclose(np_(bernoulli_nll(x, logits)), by_hand, rtol=1e-6)
    extreme = np_(bernoulli_nll(np.array([[1.0, 0.0]], np.float32), np.array([[-200.0, 200.0]], np.float32)))
    np.testing.assert_allclose(extreme, [400.0], rtol=1e-6)


def test_negative_elbo_terms_add_up():
    rng = np.random.default_rng(1)
    x = rng.uniform(size=(4, 6)).astype(np.float32)
    logits = rng.normal(size=(4, 6)).astype(np.float32)
    z_mean = rng.normal(size=(4, 2)).astype(np.float32)
    z_std = rng.uniform(0.5, 1.5, size=(4, 2)).astype(np.float32)
    terms = {k: np_(v) for k, v in negative_elbo(x, logits, z_mean, z_std).items()}
    np.testing.assert_allclose(terms["loss"], terms["recon"] + terms["kl"], rtol=1e-6)


def test_reparameterize_shifts_and_scales():
    np.testing.assert_allclose(np_(reparameterize(np.float32([1.0]), np.float32([2.0]), np.float32([0.5]))), [2.0])
