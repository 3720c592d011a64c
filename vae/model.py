"""MLP VAE (Kingma & Welling 2013); with n_classes > 0 the label is fed to encoder and decoder (the CVAE)."""
import tf_setup  # noqa: F401  (quiet TensorFlow import)
import keras
from keras import layers, ops

from data.mnist import DIM_X
from vae.losses import negative_elbo, reparameterize

MIN_STD = 1e-6  # keeps sigma, and so log(sigma) in the KL, away from 0
# --activation: the two hidden layers' activations of (encoder, decoder). elu_tanh is the original runner's;
# softplus that of Kingma et al.'s code (their M1 and M2).
ACTIVATIONS = {"elu_tanh": (("elu", "tanh"), ("tanh", "elu")), "softplus": (("softplus",) * 2, ("softplus",) * 2)}


def gaussian_params(out, dim):
    """A network's output [mean, raw std] (2 * dim columns) as a Gaussian's mean and positive standard deviation."""
    return out[:, :dim], ops.softplus(out[:, dim:]) + MIN_STD


def mlp(n_hidden, n_out, activations, name):
    """One hidden layer of n_hidden units per activation (two in every model but M2 with --m2_hidden), then a
    linear output layer."""
    return keras.Sequential(
        [layers.Dense(n_hidden, activation=act) for act in activations] + [layers.Dense(n_out)], name=name)


class VAE(keras.Model):
    """Gaussian MLP encoder giving (z_mean, z_std), Bernoulli MLP decoder giving logits."""

    n_classes = 0

    def __init__(self, dim_z, n_hidden, activation="elu_tanh", dim_x=DIM_X, **kwargs):
        super().__init__(**kwargs)
        self.dim_z, self.n_hidden, self.activation, self.dim_x = dim_z, n_hidden, activation, dim_x
        width, enc_act, dec_act = self.hidden_layers()
        self.encoder = mlp(width, 2 * dim_z, enc_act, "encoder")
        self.decoder = mlp(width, self.decoder_outputs(), dec_act, "decoder")
        self.encoder.build((None, dim_x + self.n_classes))
        self.decoder.build((None, dim_z + self.n_classes))
        self.built = True  # both halves are built above, so weights can be saved before any call

    @classmethod
    def from_flags(cls, cfg):
        """The untrained model a run's flags describe."""
        return cls(dim_z=cfg["dim_z"], n_hidden=cfg["n_hidden"], activation=cfg["activation"])

    def hidden_layers(self):
        """(units, encoder activations, decoder activations) of the hidden layers: one layer per activation."""
        return (self.n_hidden, *ACTIVATIONS[self.activation])

    def decoder_outputs(self):
        """Columns of the decoder's output: one Bernoulli logit per pixel."""
        return self.dim_x

    def _with_label(self, h, y):
        return h if self.n_classes == 0 else ops.concatenate([h, ops.cast(y, h.dtype)], axis=-1)

    def encode(self, x, y=None):
        """q(z|x) (or q(z|x,y)): mean and positive standard deviation."""
        out = ops.cast(self.encoder(self._with_label(x, y)), "float32")  # fp32 even under a bf16 dtype policy
        return gaussian_params(out, self.dim_z)

    def decode(self, z, y=None):
        """p(x|z) (or p(x|y,z)): Bernoulli logits of the 784 pixels."""
        return ops.cast(self.decoder(self._with_label(z, y)), "float32")

    def call(self, x, y=None):
        """Deterministic reconstruction logits, decoding the posterior mean."""
        z_mean, _ = self.encode(x, y)
        return self.decode(z_mean, y)

    def loss_terms(self, x_in, x_target, y, eps):
        """Per-example negative ELBO terms: encode x_in, sample z with noise eps, score x_target."""
        z_mean, z_std = self.encode(x_in, y)
        logits = self.decode(reparameterize(z_mean, z_std, eps), y)
        return negative_elbo(x_target, logits, z_mean, z_std)

    def get_config(self):
        return {"dim_z": self.dim_z, "n_hidden": self.n_hidden, "activation": self.activation}
