"""Every random stream of a run, named: the one place that says where each draw comes from.

Three kinds of generator, whose keys live in separate spaces:
- numpy Generators, np.random.default_rng(key): data preparation, fixed test inputs, batch order, figures, quality;
- TensorFlow stateless draws keyed by the run's seed and the global step: the noise of every training step;
- the Keras global seed (keras.utils.set_random_seed): the initial weights.

Within one run no two numpy streams share a key, for any --seed in [0, SEED_LIMIT): the integer keys sit in
blocks SEED_LIMIT apart, and the list keys differ from each other, and from every integer key, in their length
or in a tag above every integer key (tests/data/test_streams.py draws from every stream to check). The values
are those the runner has always used, so a seed gives the numbers it gave before, except two streams that could
coincide with another: figure_z (seed + 20000 drew the test set's binarization at --seed 151) and labelled_subset
([seed, n_labeled] drew the batch order of epoch n_labeled).
"""

SEED_LIMIT = 10_000  # --seed lies in [0, SEED_LIMIT): the offsets below are SEED_LIMIT apart
TEST_INPUTS = 10_000  # + seed: the test set's fixed noisy copy (--add_noise) and its eps for the test ELBO
TEST_BINARIZATION = 20_151  # one binary test set for every run and seed, so their log-likelihoods compare
VALID_BINARIZATION = 20_152  # --n_valid with --binarize dynamic: the validation set's one draw
STATIC_BINARIZATION = 30_000  # + seed: --binarize static, the training set's one draw
LIKELIHOOD = 40_000  # + seed: the importance samples of the test log-likelihood (TensorFlow stateless)
QUALITY = 50_000  # + seed: prior samples, generated sets, noise levels and the CAS classifier of a quality run
FIGURE_TAG = 1_000_001  # first word of the figures' key: above every integer key
LABELLED_TAG = 1_000_002  # first word of the labelled subset's key
API_TAG = 1_000_003  # first word of the key of training.api's prior samples
# Third word of a figure's own key [FIGURE_TAG, seed, k]: figure_z's key has two words, so none coincides with it.
FIGURE_STREAMS = {"samples": 1, "walk": 2, "tsne": 3}

# TensorFlow stateless keys of one training step. VAE and CVAE: (seed, step) + offset, added to both words;
# M2 and M1+M2: (seed + offset, step). Within a run the first word tells the streams apart.
STEP = {"eps": 0, "noise": 1, "binarize": 2, "iw_eps": 3}
SEMI_STEP = {"eps_labelled": 0, "eps_unlabelled": 1, "draw_labelled": 2, "draw_unlabelled": 3}


def test_inputs(seed):
    return seed + TEST_INPUTS


def valid_inputs(seed):
    """--n_valid: the validation set's fixed noisy copy (--add_noise) and its eps, as test_inputs for the test set."""
    return [test_inputs(seed), 1]


def static_binarization(seed):
    return seed + STATIC_BINARIZATION


def quality(seed, *sub):
    """The quality measures' draws: [seed + QUALITY, *sub] (no sub: the prior samples of the fidelity)."""
    return [seed + QUALITY, *sub] if sub else seed + QUALITY


def epoch_order(seed, epoch):
    """The shuffled order of the training (M2: unlabelled) images in an epoch (epoch >= 1)."""
    return [seed, epoch]


def labelled_order(seed, epoch):
    """M2's shuffled passes over the labelled images in an epoch (epoch 0: the labels-only baseline)."""
    return [seed, epoch, 1]


def labelled_subset(seed, n_labeled):
    """Which training images keep their label in M2 and M1+M2."""
    return [LABELLED_TAG, seed, n_labeled]


def figure_z(seed):
    """The fixed latent vectors the figures decode, the same in every epoch."""
    return [FIGURE_TAG, seed]


def figure_stream(seed, name):
    """A figure's own fixed draws, apart from figure_z's: 'samples' (prior samples), 'walk' (generation.gif's
    random walk in z), 'tsne' (the latent map's t-SNE)."""
    return [FIGURE_TAG, seed, FIGURE_STREAMS[name]]


def api_samples(seed):
    """The prior draws of training.api's Run.sample(n, seed=seed)."""
    return [API_TAG, seed]


def numpy_keys(seed, epochs, n_labeled=100, quality_levels=3):
    """Every numpy key one run can use, by name: what the streams test checks for coincidences."""
    keys = {"test_inputs": test_inputs(seed), "valid_inputs": valid_inputs(seed), "test_binarization": TEST_BINARIZATION,
            "valid_binarization": VALID_BINARIZATION, "static_binarization": static_binarization(seed),
            "quality": quality(seed), "quality_generated": quality(seed, 1),
            "labelled_subset": labelled_subset(seed, n_labeled), "figure_z": figure_z(seed),
            "labelled_order_0": labelled_order(seed, 0), "api_samples": api_samples(seed)}
    keys |= {f"figure_{name}": figure_stream(seed, name) for name in FIGURE_STREAMS}
    keys |= {f"quality_noise_{i}": quality(seed, 2, i) for i in range(quality_levels)}
    for epoch in range(1, epochs + 1):
        keys |= {f"epoch_order_{epoch}": epoch_order(seed, epoch), f"labelled_order_{epoch}": labelled_order(seed, epoch)}
    return keys
