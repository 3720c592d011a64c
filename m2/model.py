"""M2 and M1+M2 of Kingma et al. 2014: M2 is the CVAE plus a classifier q(y|x); M1+M2 composes a VAE and an M2."""
import tf_setup  # noqa: F401  (quiet TensorFlow import)
import keras
from keras import ops

from cvae.model import CVAE
from data.mnist import DIM_X, N_CLASSES
from m2.losses import gaussian_nll, negative_labelled_bound, negative_unlabelled_bound
from vae.losses import bernoulli_nll, gaussian_kl, reparameterize
from vae.model import VAE, gaussian_params, mlp


class M2(CVAE):
    """The CVAE's q(z|x,y) and p(x|y,z), plus q(y|x); x is Bernoulli pixels, or Gaussian with gaussian_x.

    Each MLP has two hidden layers of n_hidden units as the CVAE's, or with m2_hidden > 0 one softplus layer of
    m2_hidden units, as the authors' M2 on M1's latents (300 units for 100 labels, 500 for more). Where no label
    is given, encode and call use the classifier's.
    """

    def __init__(self, dim_z, n_hidden, dim_x=DIM_X, gaussian_x=False, m2_hidden=0, activation="elu_tanh",
                 **kwargs):
        self.gaussian_x, self.m2_hidden = gaussian_x, m2_hidden  # read by hidden_layers and decoder_outputs
        super().__init__(dim_z, n_hidden, activation, dim_x, **kwargs)
        width, enc_act, _ = self.hidden_layers()
        self.classifier = mlp(width, N_CLASSES, enc_act, "classifier")
        self.classifier.build((None, dim_x))
        if gaussian_x:
            # Which dimensions of x the likelihood counts (M1+M2: M1's active units); saved with the weights.
            self.x_mask = self.add_weight(shape=(dim_x,), initializer="ones", trainable=False, name="x_mask")

    @classmethod
    def from_flags(cls, cfg):
        return cls(dim_z=cfg["dim_z"], n_hidden=cfg["n_hidden"], m2_hidden=cfg["m2_hidden"],
                   activation=cfg["activation"])

    def hidden_layers(self):
        return (self.m2_hidden, ("softplus",), ("softplus",)) if self.m2_hidden else super().hidden_layers()

    def decoder_outputs(self):
        """Bernoulli logits of x, or with gaussian_x the mean and the raw std of each dimension."""
        return 2 * self.dim_x if self.gaussian_x else self.dim_x

    def classify(self, x):
        """Logits of q(y|x)."""
        return self.classifier(x)

    def predict_label(self, x):
        """The classifier's most probable label, one-hot: what encode and call use where no label is given."""
        return ops.one_hot(ops.argmax(self.classify(x), axis=-1), N_CLASSES)

    def encode(self, x, y=None):
        """q(z|x,y): mean and positive standard deviation; y defaults to the classifier's prediction."""
        return super().encode(x, self.predict_label(x) if y is None else y)

    def call(self, x, y=None):
        """Deterministic reconstruction, decoding the posterior mean; y defaults to the classifier's prediction."""
        return super().call(x, self.predict_label(x) if y is None else y)

    def x_nll(self, x, out):
        """-log p(x|y,z) per example from the decoder's output."""
        if self.gaussian_x:
            return gaussian_nll(x, *gaussian_params(out, self.dim_x), self.x_mask)
        return bernoulli_nll(x, out)

    def loss_terms(self, x_in, x_target, y, eps):
        """Per-example terms with the label given: 'recon', 'kl' and 'loss' = -L(x,y) (eq. 6, with -log p(y))."""
        z_mean, z_std = self.encode(x_in, y)
        recon = self.x_nll(x_target, self.decode(reparameterize(z_mean, z_std, eps), y))
        kl = gaussian_kl(z_mean, z_std)
        return {"recon": recon, "kl": kl, "loss": negative_labelled_bound(recon, kl, N_CLASSES)}

    def encode_all_labels(self, x):
        """q(z|x,y) for each of the ten labels: mean and std, rows b*10 .. b*10+9 for image b with labels 0..9.

        The same as encode() on x repeated with every one-hot y, but the first layer's product with x is taken
        once per image and not once per label: W [x; y] + b = (W_x x + b) + W_y[:, y].
        """
        first = self.encoder.layers[0]
        kernel = first.kernel
        h_x = ops.matmul(x, kernel[:self.dim_x]) + first.bias
        h = ops.expand_dims(h_x, 1) + ops.expand_dims(ops.cast(kernel[self.dim_x:], h_x.dtype), 0)  # [b, 10, width]
        h = first.activation(ops.reshape(h, (-1, ops.shape(h_x)[-1])))
        for layer in self.encoder.layers[1:]:
            h = layer(h)
        return gaussian_params(h, self.dim_z)

    def unlabelled_loss(self, x, eps):
        """-U(x) per example (eq. 7): -L(x,y) for all ten labels in one batch, summed out under q(y|x)."""
        batch = ops.shape(x)[0]
        x_rep = ops.repeat(x, N_CLASSES, axis=0)  # rows b*10 .. b*10+9 are image b with labels 0..9
        y_rep = ops.tile(ops.eye(N_CLASSES, dtype=x.dtype), [batch, 1])
        eps_rep = ops.repeat(eps, N_CLASSES, axis=0)  # the same z noise for every label of an image
        z_mean, z_std = self.encode_all_labels(x)
        recon = self.x_nll(x_rep, self.decode(reparameterize(z_mean, z_std, eps_rep), y_rep))
        neg_labelled = negative_labelled_bound(recon, gaussian_kl(z_mean, z_std), N_CLASSES)
        return negative_unlabelled_bound(ops.reshape(neg_labelled, (batch, N_CLASSES)), self.classify(x))

    def get_config(self):
        return super().get_config() | {"dim_x": self.dim_x, "gaussian_x": self.gaussian_x, "m2_hidden": self.m2_hidden}


class M1M2(keras.Model):
    """M1+M2: a VAE (M1) whose latents z1 are the data of a Gaussian M2; images in, images out.

    As in the authors' code, only M1's active units count (m2.x_mask, set after M1 is trained: the latent
    means that vary across images); the others are held at 0, their prior mean. Training draws z1 from
    q(z1|x) at every step (training/family_m2.py); features() and the test error use its mean.
    """

    n_classes = N_CLASSES

    def __init__(self, dim_z, n_hidden, m1_dim_z, m2_hidden=0, activation="elu_tanh", **kwargs):
        super().__init__(**kwargs)
        self.dim_z, self.n_hidden, self.m1_dim_z, self.m2_hidden = dim_z, n_hidden, m1_dim_z, m2_hidden
        self.activation = activation
        self.m1 = VAE(dim_z=m1_dim_z, n_hidden=n_hidden, activation=activation)
        self.m2 = M2(dim_z=dim_z, n_hidden=n_hidden, dim_x=m1_dim_z, gaussian_x=True, m2_hidden=m2_hidden,
                     activation=activation)
        self.built = True

    @classmethod
    def from_flags(cls, cfg):
        return cls(dim_z=cfg["dim_z"], n_hidden=cfg["n_hidden"], m1_dim_z=cfg["m1_dim_z"],
                   m2_hidden=cfg["m2_hidden"], activation=cfg["activation"])

    def features(self, x):
        """M1's latent means of the images x, inactive units zeroed: what M2 classifies and encodes."""
        return self.m1.encode(x)[0] * self.m2.x_mask

    def classify(self, x):
        return self.m2.classify(self.features(x))

    def encode(self, x, y=None):
        """q(z2|z1,y) of M2 on M1's latent mean z1 of image x; y defaults to the classifier's prediction."""
        return self.m2.encode(self.features(x), y)

    def decode(self, z, y):
        """Bernoulli logits of the image: M1 decodes the mean of M2's p(z1|y,z2)."""
        return self.m1.decode(self.m2.decode(z, y)[:, :self.m1_dim_z] * self.m2.x_mask)

    def call(self, x, y=None):
        y = self.m2.predict_label(self.features(x)) if y is None else y
        z_mean, _ = self.encode(x, y)
        return self.decode(z_mean, y)

    def loss_terms(self, x_in, x_target, y, eps):
        """M2's labelled terms on M1's latent means: a bound on -log p(z1|y), not on the image likelihood."""
        return self.m2.loss_terms(self.features(x_in), self.features(x_target), y, eps)

    def get_config(self):
        return {"dim_z": self.dim_z, "n_hidden": self.n_hidden, "m1_dim_z": self.m1_dim_z, "m2_hidden": self.m2_hidden,
                "activation": self.activation}
