"""The importance-weighted log-likelihood against exact answers on small models."""
import math

import numpy as np

import tf_setup  # noqa: F401
from keras import ops

from cvae.model import CVAE
from vae.likelihood import iw_log_likelihood, iwae_loss
from vae.losses import bernoulli_nll
from vae.model import VAE


def images(n, seed=0):
    rng = np.random.default_rng(seed)
    x = (rng.random((n, 784)) < 0.3).astype(np.float32)
    y = np.eye(10, dtype=np.float32)[rng.integers(0, 10, n)]
    return x, y


def sharp_model(cls=VAE, seed=0):
    """A 1-D latent model whose decoder depends strongly on z, so the ELBO is well below log p(x)."""
    import keras
    keras.utils.set_random_seed(seed)
    model = cls(dim_z=1, n_hidden=16)
    first = model.decoder.layers[0]
    w, b = first.get_weights()
    first.set_weights([w * 6.0, b])
    return model


def exact_log_px(model, x, y):
    """log p(x) = log int p(x|z) N(z; 0, 1) dz by quadrature on a fine grid (dim_z = 1)."""
    z = np.linspace(-9, 9, 6001, dtype=np.float32)[:, None]
    log_prior = -0.5 * (z[:, 0].astype(np.float64) ** 2 + math.log(2 * math.pi)) + math.log(z[1, 0] - z[0, 0])
    out = []
    for xi, yi in zip(x, y):
        logits = model.decode(z, np.repeat(yi[None], len(z), 0))
        log_px_z = -np.asarray(ops.convert_to_numpy(bernoulli_nll(np.repeat(xi[None], len(z), 0), logits)), np.float64)
        out.append(np.logaddexp.reduce(log_px_z + log_prior))
    return np.array(out)


def elbo(model, x, y):
    """The ELBO per image, the closed-form KL and a 20,000-sample average of the reconstruction term."""
    eps = np.random.default_rng(5).standard_normal((20_000, 1)).astype(np.float32)
    return np.array([-np.mean(ops.convert_to_numpy(model.loss_terms(
        np.repeat(xi[None], len(eps), 0), np.repeat(xi[None], len(eps), 0), np.repeat(yi[None], len(eps), 0), eps)["loss"]))
        for xi, yi in zip(x, y)])


def test_estimate_is_exact_when_q_is_the_prior_and_the_decoder_ignores_z():
    model = VAE(dim_z=3, n_hidden=8)
    enc_out = model.encoder.layers[-1]
    w, b = enc_out.get_weights()
    enc_out.set_weights([0 * w, np.r_[np.zeros(3), np.full(3, math.log(math.e - 1))].astype(np.float32)])  # softplus -> 1
    dec_in = model.decoder.layers[0]
    w, b = dec_in.get_weights()
    dec_in.set_weights([0 * w, b])
    x, y = images(4)
    expected = -ops.convert_to_numpy(bernoulli_nll(x, model.decode(np.zeros((4, 3), np.float32))))
    for k in (1, 7):
        np.testing.assert_allclose(iw_log_likelihood(model, x, y, k), expected, rtol=1e-5)


def test_estimate_is_above_the_elbo_and_rises_toward_log_px_with_k():
    model = sharp_model()
    x, y = images(8)
    truth = exact_log_px(model, x, y)
    bound = elbo(model, x, y)
    assert np.mean(truth - bound) > 1.0, "the test needs a model whose ELBO is clearly loose"
    # Expectations over the sampling noise: each image is repeated, and every copy draws its own K samples.
    mean_est = {}
    for k, copies in ((1, 2000), (10, 400), (100, 100), (1000, 20)):
        est = iw_log_likelihood(model, np.tile(x, (copies, 1)), np.tile(y, (copies, 1)), k).reshape(copies, len(x))
        mean_est[k] = est.mean(0)
    assert abs(np.mean(mean_est[1] - bound)) < 0.1  # K = 1 is an unbiased sample of the ELBO
    assert np.all(mean_est[10] > bound)
    gaps = [np.mean(truth - mean_est[k]) for k in (1, 10, 100, 1000)]
    assert gaps[0] > gaps[1] + 0.5 > gaps[2] + 0.5 + 0.1 > gaps[3] + 0.5 + 0.1 + 0.03 > 0.5 + 0.1 + 0.03 - 0.03
    assert np.all(mean_est[1000] < truth + 0.1) and gaps[3] < 0.1


def test_cvae_estimates_log_px_given_the_label():
    model = sharp_model(CVAE)
    x, y = images(4)
    other = np.roll(y, 1, axis=1)
    truth, truth_other = exact_log_px(model, x, y), exact_log_px(model, x, other)
    assert np.mean(np.abs(truth - truth_other)) > 0.5  # the label matters to this model
    est = iw_log_likelihood(model, x, y, 2000)
    # This posterior is hard for q, so K = 2000 is not yet converged; it must still track log p(x|y), not log p(x|y').
    assert np.mean(np.abs(est - truth)) < 0.4 < np.mean(np.abs(est - truth_other))


def test_chunking_does_not_change_the_estimate_shape_or_scale():
    model = sharp_model()
    x, y = images(5)
    small_chunks = iw_log_likelihood(model, x, y, 50, max_rows=7)  # K split into 8 chunks, one image per batch
    one_call = iw_log_likelihood(model, x, y, 50)
    assert small_chunks.shape == one_call.shape == (5,)
    np.testing.assert_allclose(small_chunks.mean(), one_call.mean(), atol=1.0)


def test_iwae_loss_is_the_negative_importance_weighted_bound():
    model = sharp_model()
    x, y = images(8)
    bound = elbo(model, x, y)
    copies = 500
    xs, ys = np.tile(x, (copies, 1)), np.tile(y, (copies, 1))
    rng = np.random.default_rng(3)
    loss = {k: ops.convert_to_numpy(iwae_loss(model, xs, xs, ys, rng.standard_normal((k, len(xs), 1)).astype(np.float32)))
            .reshape(copies, len(x)).mean(0) for k in (1, 20)}
    assert abs(np.mean(-loss[1] - bound)) < 0.1  # K = 1: the negative ELBO, with a sampled KL
    est_20 = iw_log_likelihood(model, xs, ys, 20).reshape(copies, len(x)).mean(0)
    assert abs(np.mean(-loss[20] - est_20)) < 0.1 and np.mean(loss[1] - loss[20]) > 0.5
