"""M2 and M1+M2: the unlabelled bound, encoding every label at once, the classifier's label, --m2_hidden, M1's images."""
import numpy as np
import pytest

import tf_setup  # noqa: F401
from keras import ops

from cvae.model import CVAE
from m2.model import M1M2, M2


def np_(t):
    return np.asarray(ops.convert_to_numpy(t), dtype=np.float64)


@pytest.mark.parametrize("dim_x, gaussian_x, m2_hidden", [(784, False, 0), (6, True, 0), (6, True, 5)])
def test_unlabelled_bound_is_expected_labelled_bound_plus_entropy(dim_x, gaussian_x, m2_hidden):
    rng = np.random.default_rng(0)
    model = M2(dim_z=3, n_hidden=7, dim_x=dim_x, gaussian_x=gaussian_x, m2_hidden=m2_hidden)
    x = (rng.normal(size=(5, dim_x)) if gaussian_x else rng.uniform(size=(5, dim_x))).astype(np.float32)
    eps = rng.standard_normal((5, 3)).astype(np.float32)
    one_batch = np_(model.unlabelled_loss(x, eps))  # all ten labels tiled into one batch
    # The other way: -L(x, y) label by label, then E_q[-L] - H(q) in float64 numpy.
    neg_l = np.stack([np_(model.loss_terms(x, x, np.tile(np.eye(10, dtype=np.float32)[k], (5, 1)), eps)["loss"])
                      for k in range(10)], axis=1)
    logits = np_(model.classify(x))
    q = np.exp(logits - logits.max(1, keepdims=True))
    q /= q.sum(1, keepdims=True)
    entropy = -(q * np.log(q)).sum(1)
    assert entropy.min() > 0.1 and np.ptp(neg_l, axis=1).min() > 1e-3  # neither term is trivially constant
    np.testing.assert_allclose(one_batch, (q * neg_l).sum(1) - entropy, rtol=1e-5)


@pytest.mark.parametrize("m2_hidden", [0, 5])
def test_encoding_all_labels_at_once_equals_encoding_each_label(m2_hidden):
    rng = np.random.default_rng(1)
    model = M2(dim_z=3, n_hidden=7, dim_x=12, m2_hidden=m2_hidden)
    for layer in model.encoder.layers:  # nonzero biases, so that adding the bias once per image is tested too
        layer.bias.assign(rng.normal(size=layer.bias.shape).astype(np.float32))
    x = rng.uniform(size=(4, 12)).astype(np.float32)
    mean, std = model.encode_all_labels(x)
    for k in range(10):  # rows b*10+k: image b with label k
        y = np.tile(np.eye(10, dtype=np.float32)[k], (4, 1))
        want_mean, want_std = model.encode(x, y)
        np.testing.assert_allclose(np_(mean)[k::10], np_(want_mean), rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(np_(std)[k::10], np_(want_std), rtol=1e-5, atol=1e-6)
    assert np.ptp(np_(mean).reshape(4, 10, 3), axis=1).min() > 1e-4  # the label does change the encoding


def test_m2_uses_its_classifier_where_no_label_is_given():
    model = M2(dim_z=2, n_hidden=8)
    x = np.random.default_rng(1).uniform(size=(4, 784)).astype(np.float32)
    predicted = np.eye(10, dtype=np.float32)[np.argmax(np_(model.classify(x)), 1)]
    np.testing.assert_allclose(np_(model(x)), np_(model(x, predicted)), rtol=1e-6)
    np.testing.assert_allclose(np_(model.encode(x)[0]), np_(model.encode(x, predicted)[0]), rtol=1e-6)


def test_m2_hidden_gives_every_mlp_of_m2_one_softplus_layer():
    def hidden(mlp):
        return [(layer.units, layer.activation.__name__) for layer in mlp.layers[:-1]]
    default = M2(dim_z=2, n_hidden=8)
    assert hidden(default.encoder) == [(8, "elu"), (8, "tanh")] and hidden(default.decoder) == [(8, "tanh"), (8, "elu")]
    model = M1M2(dim_z=2, n_hidden=8, m1_dim_z=4, m2_hidden=5)
    for mlp in (model.m2.encoder, model.m2.decoder, model.m2.classifier):
        assert hidden(mlp) == [(5, "softplus")]
    assert hidden(model.m1.encoder) == [(8, "elu"), (8, "tanh")]  # M1 keeps --n_hidden
    assert model.get_config()["m2_hidden"] == 5 and model.m2.get_config()["m2_hidden"] == 5


def test_m1m2_takes_and_gives_images_through_m1():
    model = M1M2(dim_z=2, n_hidden=8, m1_dim_z=4)
    rng = np.random.default_rng(2)
    x = rng.uniform(size=(3, 784)).astype(np.float32)
    eps = rng.standard_normal((3, 2)).astype(np.float32)
    z1 = np_(model.m1.encode(x)[0])
    predicted = np.eye(10, dtype=np.float32)[np.argmax(np_(model.m2.classify(z1.astype(np.float32))), 1)]
    z_mean = np_(model.encode(x)[0])
    assert z_mean.shape == (3, 2)
    np.testing.assert_allclose(z_mean, np_(model.m2.encode(z1.astype(np.float32), predicted)[0]), rtol=1e-5)
    x1_mean = np_(model.m2.decode(z_mean.astype(np.float32), predicted))[:, :4]
    np.testing.assert_allclose(np_(model(x)), np_(model.m1.decode(x1_mean.astype(np.float32))), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(np_(model.loss_terms(x, x, predicted, eps)["loss"]),
                               np_(model.m2.loss_terms(z1.astype(np.float32), z1.astype(np.float32), predicted, eps)["loss"]),
                               rtol=1e-5)


def test_m2_is_the_cvae_plus_a_classifier():
    model = M2(dim_z=2, n_hidden=8)
    assert issubclass(M2, CVAE) and isinstance(model, CVAE) and model.n_classes == CVAE.n_classes == 10
    assert [layer.units for layer in model.classifier.layers] == [8, 8, 10]
