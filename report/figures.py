"""Which figures a run draws, and when, each from fixed test images and fixed latent vectors.

Figure functions use only the model's encode(x, y) -> (z_mean, z_std) and decode(z, y) -> logits, with y
one-hot float32 [N, 10] for a label-conditioned model (n_classes > 0) and None otherwise.
"""
import csv

import numpy as np

import tf_setup  # noqa: F401  (quiet TensorFlow import)
import keras

import plot_utils
from data import streams
from data.mnist import N_CLASSES
from data.prepare import one_hot
from report.page import run_title, write_index

PARR_ROWS = 10  # random z of PARR (a), one per row
SAMPLES_SIDE = 10  # samples_epoch_EE.png: 10 x 10 prior samples (a conditioned model: row k has label k)
LATENT_MAP_N = 300  # test images in latent_map_epoch_EE.png: their t-SNE takes a few seconds on 2 shared cores (docs/figures.md)
TSNE_ITERATIONS = 500
GIF_SCALE = 2  # the interpolation GIF shows each image at twice its size
WALK_FRAMES = 48  # generation.gif: frames of one loop of the random walk in z
WALK_HARMONICS = 2  # generation.gif: the walk is a random Fourier series in time, smooth and looping


# ---- the model, seen only through encode and decode ----

def conditioned(model):
    """Whether the model takes the label (CVAE, M2) or ignores it (VAE)."""
    return getattr(model, "n_classes", 0) > 0


def encode_means(model, x, y):
    """Encoder means of images x (labels y one-hot, used only by a conditioned model)."""
    z_mean, _ = model.encode(x, y if conditioned(model) else None)
    return keras.ops.convert_to_numpy(z_mean)


def decode_images(model, z, y):
    """Pixel intensities in [0, 1] decoded from z (and the one-hot or blended labels y)."""
    logits = model.decode(np.asarray(z, np.float32), y if conditioned(model) else None)
    return keras.ops.convert_to_numpy(keras.ops.sigmoid(logits))


def reconstruct(model, x_in, y):
    """Reconstructions of x_in, decoding the posterior mean."""
    return decode_images(model, encode_means(model, x_in, y), y)


# ---- fixed inputs: the same in every epoch of a run, and in every run of the same seed ----

def latent_grid(z_range, n_img_x, n_img_y):
    """[n_img_x * n_img_y, 2] z row by row: z1 grows to the right, z2 grows upwards (row 0 is z2 = +range)."""
    z1 = np.linspace(-z_range, z_range, n_img_x, dtype=np.float32)
    z2 = np.linspace(z_range, -z_range, n_img_y, dtype=np.float32)
    return np.stack(np.meshgrid(z1, z2), axis=-1).reshape(-1, 2)


def one_per_label(y_test):
    """Indices of the first test image of each label 0-9."""
    labels = np.argmax(y_test, axis=1)
    return np.array([np.flatnonzero(labels == k)[0] for k in range(N_CLASSES)])


def random_z(cfg, n):
    """PARR's n random latent vectors, drawn from the run's seed: at dim_z 2 uniform on [-PARR_z_range,
    PARR_z_range]^2 as in the original; above, from the prior N(0, I), where the decoder was trained."""
    rng = np.random.default_rng(streams.figure_z(cfg["seed"]))
    if cfg["dim_z"] == 2:
        return rng.uniform(-cfg["PARR_z_range"], cfg["PARR_z_range"], (n, 2)).astype(np.float32)
    return rng.standard_normal((n, cfg["dim_z"])).astype(np.float32)


def prior_z(cfg, n, stream="samples"):
    """n fixed draws from the prior N(0, I) of the figure stream named, from the run's seed."""
    return np.random.default_rng(streams.figure_stream(cfg["seed"], stream)).standard_normal(
        (n, cfg["dim_z"])).astype(np.float32)


# ---- when ----

def figure_epochs(cfg):
    """Epochs after which PRR, PMLR and PARR are drawn: the first, the last, and every PRR_every-th."""
    last, every = cfg["num_epochs"], cfg["PRR_every"]
    return {1, last} | (set(range(every, last + 1, every)) if every else set())


def epoch_tag(cfg, epoch):
    """'epoch_07': zero-padded so that file names sort by epoch."""
    return f"epoch_{epoch:0{max(2, len(str(cfg['num_epochs'])))}d}"


def start_figures(cfg, data, run_dir):
    """Figures that need no model: the PRR input grids."""
    if cfg["PRR"]:
        n = cfg["PRR_n_img_x"] * cfg["PRR_n_img_y"]
        prr_grid(cfg, run_dir / "PRR_input.png", data.x_test[:n])
        if cfg["add_noise"]:
            prr_grid(cfg, run_dir / "PRR_input_noisy.png", data.x_test_in[:n])


def epoch_figures(cfg, model, data, run_dir, epoch):
    """Figures after an epoch of figure_epochs(cfg): prior samples, the latent map, PRR, PMLR and PARR as the
    flags ask."""
    if epoch not in figure_epochs(cfg):
        return
    tag = epoch_tag(cfg, epoch)
    draw_samples(cfg, model, run_dir, tag)
    draw_latent_map(cfg, model, data, run_dir, tag, epoch)
    if cfg["PRR"]:
        n = cfg["PRR_n_img_x"] * cfg["PRR_n_img_y"]
        prr_grid(cfg, run_dir / f"PRR_{tag}.png", reconstruct(model, data.x_test_in[:n], data.y_test[:n]))
    if cfg["PMLR"]:
        draw_pmlr(cfg, model, data, run_dir, tag, epoch)
        draw_pmlr_path(cfg, model, data, run_dir, tag, epoch)
    if cfg["PARR"] and conditioned(model):
        draw_parr(cfg, model, data, run_dir, tag)
    write_index(cfg, run_dir)  # so a run still going has a page too


def final_figures(cfg, model, data, run_dir):
    """Figures after the last epoch: learning curves, latent interpolation, the denoising panel."""
    draw_learning_curves(cfg, run_dir)
    if cfg["interp"]:
        draw_interpolation(cfg, model, data, run_dir)
        draw_all_pairs(cfg, model, data, run_dir)
    draw_generation(cfg, model, run_dir)
    if cfg["add_noise"]:
        draw_denoising(cfg, model, data, run_dir)


# ---- what ----

def prr_grid(cfg, path, images):
    return plot_utils.save_grid(path, images, cfg["PRR_n_img_x"], cfg["PRR_n_img_y"], cfg["PRR_resize_factor"])


def draw_samples(cfg, model, run_dir, tag):
    """Images decoded from fixed prior draws: 100 z, or for a conditioned model 10 z decoded with each label."""
    side = SAMPLES_SIDE
    if conditioned(model):
        z, y = np.tile(prior_z(cfg, side), (N_CLASSES, 1)), one_hot(np.repeat(np.arange(N_CLASSES), side))
    else:
        z, y = prior_z(cfg, side * side), None
    plot_utils.save_grid(run_dir / f"samples_{tag}.png", decode_images(model, z, y), side, side)


def latent_map_points(cfg, model, data):
    """The 2-D points of the latent map and their axis names: the test means at dim_z 2, else their t-SNE."""
    n = min(LATENT_MAP_N, len(data.x_test))
    z_mean = encode_means(model, data.x_test_in[:n], data.y_test[:n])
    if z_mean.shape[1] == 2:
        return z_mean, ("z1", "z2")
    from sklearn.manifold import TSNE  # only here: loading scikit-learn costs a second
    state = np.random.RandomState(np.random.MT19937(streams.figure_stream(cfg["seed"], "tsne")))
    # The exact method: at this size 4x faster here than Barnes-Hut, whose OpenMP threads stall on shared cores.
    tsne = TSNE(2, init="pca", method="exact", max_iter=TSNE_ITERATIONS, random_state=state)
    return tsne.fit_transform(z_mean), ("t-SNE 1", "t-SNE 2")


def draw_latent_map(cfg, model, data, run_dir, tag, epoch):
    """The encoder means of the first LATENT_MAP_N test images in two dimensions, coloured by label."""
    points, axes = latent_map_points(cfg, model, data)
    how = "encoder means" if axes[0] == "z1" else f"t-SNE of the {cfg['dim_z']}-D encoder means"
    title = f"latent map: {how} of {len(points)} test images\n{run_title(cfg, epoch)}"
    fig = plot_utils.latent_map_figure(points, np.argmax(data.y_test[:len(points)], axis=1), axes, title)
    plot_utils.save_figure(fig, run_dir / f"latent_map_{tag}.png")


def draw_pmlr(cfg, model, data, run_dir, tag, epoch):
    """The decoder over the z grid (one grid per label for a conditioned model) and, beside it, the latent map."""
    n_x, n_y, z_range = cfg["PMLR_n_img_x"], cfg["PMLR_n_img_y"], cfg["PMLR_z_range"]
    z = latent_grid(z_range, n_x, n_y)
    labels = range(N_CLASSES) if conditioned(model) else [None]
    grids, titles = [], []
    for label in labels:
        y = one_hot(np.full(len(z), label)) if label is not None else None
        grid = plot_utils.image_grid(decode_images(model, z, y), n_x, n_y, cfg["PMLR_resize_factor"])
        suffix = f"_label_{label}" if label is not None else ""
        plot_utils.save_png(grid, run_dir / f"PMLR_{tag}{suffix}.png")
        grids.append(grid)
        titles.append(f"decoder, label {label}" if label is not None else "decoder")
    n = min(cfg["PMLR_n_samples"], len(data.x_test))
    z_mean = encode_means(model, data.x_test_in[:n], data.y_test[:n])
    fig = plot_utils.manifold_figure(grids, titles, z_mean, np.argmax(data.y_test[:n], axis=1), z_range, n_x, n_y,
                                     f"PMLR: {run_title(cfg, epoch)}")
    plot_utils.save_figure(fig, run_dir / f"PMLR_map_{tag}.png", dpi=plot_utils.MAP_DPI)


def draw_parr(cfg, model, data, run_dir, tag):
    """Analogies: (a) fixed random z in rows, (b) test images' z in rows; the columns decoded with labels 0-9."""
    factor, digits = cfg["PARR_resize_factor"], [str(k) for k in range(N_CLASSES)]
    labels = one_hot(np.tile(np.arange(N_CLASSES), PARR_ROWS))
    z = np.repeat(random_z(cfg, PARR_ROWS), N_CLASSES, axis=0)
    grid = plot_utils.image_grid(decode_images(model, z, labels), N_CLASSES, PARR_ROWS, factor)
    plot_utils.save_png(plot_utils.panel([grid], [digits]), run_dir / f"PARR_random_{tag}.png")

    idx = one_per_label(data.y_test)
    z = np.repeat(encode_means(model, data.x_test_in[idx], data.y_test[idx]), N_CLASSES, axis=0)
    grid = plot_utils.image_grid(decode_images(model, z, one_hot(np.tile(np.arange(N_CLASSES), len(idx)))),
                                 N_CLASSES, len(idx), factor)
    # The clean input shows the writer's style; a denoiser's encoder saw the noisy copy, shown beside it.
    inputs = [data.x_test[idx]] + ([data.x_test_in[idx]] if cfg["add_noise"] else [])
    blocks = [plot_utils.image_grid(x, 1, len(idx), factor) for x in inputs] + [grid]
    titles = (["input", "noisy"] if cfg["add_noise"] else ["input"]) + [digits]
    plot_utils.save_png(plot_utils.panel(blocks, titles), run_dir / f"PARR_images_{tag}.png")


def line_points(z_from, z_to, y_from, y_to, n_steps):
    """n_steps points (both ends included) on each line from z_from[i] to z_to[i], the labels blended alike:
    ([len, n_steps, dim_z], [len, n_steps, 10])."""
    t = np.linspace(0.0, 1.0, n_steps, dtype=np.float32)[None, :, None]
    return (1 - t) * z_from[:, None] + t * z_to[:, None], (1 - t) * y_from[:, None] + t * y_to[:, None]


def interpolation_lines(cfg, model, data):
    """([10, interp_n_steps, dim_z], [10, interp_n_steps, 10], idx, nxt): line d runs from test digit d's z (and
    label) to digit d+1's, idx and nxt being their test indices."""
    idx = one_per_label(data.y_test)
    nxt = np.roll(idx, -1)
    z = encode_means(model, data.x_test_in[idx], data.y_test[idx])
    z_next = encode_means(model, data.x_test_in[nxt], data.y_test[nxt])
    # For a conditioned model the one-hot label is blended along the same line, so the digit can change too.
    return (*line_points(z, z_next, data.y_test[idx], data.y_test[nxt], cfg["interp_n_steps"]), idx, nxt)


def interpolation_images(cfg, model, data):
    """[10, interp_n_steps, 784]: row d decoded along the line from test digit d's z (and label) to digit d+1's."""
    z_line, y_line, idx, nxt = interpolation_lines(cfg, model, data)
    images = decode_images(model, z_line.reshape(-1, z_line.shape[2]), y_line.reshape(-1, N_CLASSES))
    return images.reshape(len(idx), cfg["interp_n_steps"], -1), idx, nxt


def draw_interpolation(cfg, model, data, run_dir):
    """Latent interpolation as a strip (start image, decoded steps, end image per row) and an animated GIF."""
    images, idx, nxt = interpolation_images(cfg, model, data)
    n_rows, n_steps = images.shape[:2]
    strip = plot_utils.image_grid(images.reshape(n_rows * n_steps, -1), n_steps, n_rows)
    start = plot_utils.image_grid(data.x_test[idx], 1, n_rows)
    end = plot_utils.image_grid(data.x_test[nxt], 1, n_rows)
    plot_utils.save_png(plot_utils.panel([start, strip, end], ["from", "decoded along the line in z", "to"]),
                        run_dir / "interpolation.png")
    # Each frame shows every row's image at one step, forwards then backwards, so the loop has no jump.
    order = list(range(n_steps)) + list(range(n_steps - 2, 0, -1))
    frames = [plot_utils.image_grid(images[:, s], n_rows, 1, GIF_SCALE) for s in order]
    plot_utils.save_gif(run_dir / "interpolation.gif", frames)


def draw_all_pairs(cfg, model, data, run_dir):
    """interpolation_all_pairs.gif: cell (i, j) moves along the line from the first test digit i's z to digit j's;
    interpolation_all_pairs.png: its middle frame."""
    idx = one_per_label(data.y_test)
    z = encode_means(model, data.x_test_in[idx], data.y_test[idx])
    n, steps = len(idx), cfg["interp_n_steps"]
    i, j = np.repeat(np.arange(n), n), np.tile(np.arange(n), n)  # cell (i, j), row by row
    z_line, y_line = line_points(z[i], z[j], data.y_test[idx][i], data.y_test[idx][j], steps)
    images = decode_images(model, z_line.reshape(-1, z.shape[1]), y_line.reshape(-1, N_CLASSES))
    images = images.reshape(n * n, steps, -1)
    frames = [plot_utils.image_grid(images[:, s], n, n) for s in range(steps)]
    plot_utils.save_png(frames[(steps - 1) // 2], run_dir / "interpolation_all_pairs.png")
    plot_utils.save_gif(run_dir / "interpolation_all_pairs.gif", frames + frames[-2:0:-1])


def walk_z(cfg):
    """[WALK_FRAMES, dim_z]: a smooth looping random walk whose every point is distributed as the prior N(0, I)
    (a random Fourier series: cos^2 + sin^2 = 1 keeps each point's variance 1)."""
    rng = np.random.default_rng(streams.figure_stream(cfg["seed"], "walk"))
    a, b = rng.standard_normal((2, WALK_HARMONICS, cfg["dim_z"]))
    t = 2 * np.pi * np.arange(WALK_FRAMES) / WALK_FRAMES
    h = np.arange(1, WALK_HARMONICS + 1)[:, None]
    z = (np.cos(h * t)[..., None] * a[:, None] + np.sin(h * t)[..., None] * b[:, None]).sum(axis=0)
    return (z / np.sqrt(WALK_HARMONICS)).astype(np.float32)


def draw_generation(cfg, model, run_dir):
    """generation.gif: digits decoded along walk_z, each frame with every label 0-9 side by side (a VAE: one)."""
    z = walk_z(cfg)
    n_labels = N_CLASSES if conditioned(model) else 1
    y = one_hot(np.tile(np.arange(N_CLASSES), len(z))) if n_labels > 1 else None
    images = decode_images(model, np.repeat(z, n_labels, axis=0), y).reshape(len(z), n_labels, -1)
    scale = GIF_SCALE if n_labels > 1 else 2 * GIF_SCALE
    plot_utils.save_gif(run_dir / "generation.gif", [plot_utils.image_grid(f, n_labels, 1, scale) for f in images],
                        ms_per_frame=80)


def draw_pmlr_path(cfg, model, data, run_dir, tag, epoch):
    """The interpolation lines (first test digit d to digit d + 1) drawn in the latent plane over the decoded
    manifold (a VAE) or over the latent map (a conditioned model, whose manifold depends on the label)."""
    paths = interpolation_lines(cfg, model, data)[0]
    n_x, n_y, z_range = cfg["PMLR_n_img_x"], cfg["PMLR_n_img_y"], cfg["PMLR_z_range"]
    grid, points = None, None
    if conditioned(model):
        n = min(cfg["PMLR_n_samples"], len(data.x_test))
        points = (encode_means(model, data.x_test_in[:n], data.y_test[:n]), np.argmax(data.y_test[:n], axis=1))
    else:
        grid = plot_utils.image_grid(decode_images(model, latent_grid(z_range, n_x, n_y), None), n_x, n_y)
    fig = plot_utils.path_figure(paths, grid, points, z_range, n_x, n_y, f"interpolation paths: {run_title(cfg, epoch)}")
    plot_utils.save_figure(fig, run_dir / f"PMLR_path_{tag}.png", dpi=plot_utils.MAP_DPI)


def draw_denoising(cfg, model, data, run_dir):
    """Clean, noisy and restored PRR images side by side."""
    n_x, n_y, factor = cfg["PRR_n_img_x"], cfg["PRR_n_img_y"], cfg["PRR_resize_factor"]
    n = n_x * n_y
    blocks = [plot_utils.image_grid(x, n_x, n_y, factor) for x in
              (data.x_test[:n], data.x_test_in[:n], reconstruct(model, data.x_test_in[:n], data.y_test[:n]))]
    plot_utils.save_png(plot_utils.panel(blocks, ["clean", "noisy (encoder input)", "restored"]),
                        run_dir / "denoising.png")


def draw_learning_curves(cfg, run_dir):
    rows = list(csv.DictReader((run_dir / "metrics.csv").open()))
    plot_utils.save_figure(plot_utils.learning_curves_figure(rows, f"learning curves: {run_title(cfg)}"),
                           run_dir / "learning_curves.png")


# ---- two runs side by side ----

def comparison_panel(runs, data, n_img_x, n_img_y, resize_factor=1.0):
    """Input (and noisy input) beside each run's reconstructions of the same images; runs: [(name, cfg, model)]."""
    n = n_img_x * n_img_y
    x, x_in, y = data.x_test[:n], data.x_test_in[:n], data.y_test[:n]
    blocks, titles = [plot_utils.image_grid(x, n_img_x, n_img_y, resize_factor)], ["input"]
    if runs[0][1]["add_noise"]:
        blocks.append(plot_utils.image_grid(x_in, n_img_x, n_img_y, resize_factor))
        titles.append("noisy input")
    for name, cfg, model in runs:
        blocks.append(plot_utils.image_grid(reconstruct(model, x_in, y), n_img_x, n_img_y, resize_factor))
        titles.append(f"{cfg['model'].upper()}: {name}")
    return plot_utils.panel(blocks, titles)
