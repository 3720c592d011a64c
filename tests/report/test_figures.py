"""Figures drawn from a stand-in model: pixel sizes implied by the flags, PMLR orientation, PARR's rows, and the
learning curves."""
from io import BytesIO

import numpy as np
import pytest
from PIL import Image

import plot_utils
from data.prepare import load_run_data
from report import figures
from training.flags import with_flag_defaults

Z_RANGE = 2.0


class FakeModel:
    """encode/decode stand-ins that make orientation checkable: decode(z) shows z1 in the top half of the
    image and z2 in the bottom half as grey levels; encode puts label 0 at the top right and label 1 at the
    bottom left of the latent plane, every other label far outside it."""

    def __init__(self, n_classes, dim_z=2):
        self.n_classes, self.dim_z = n_classes, dim_z

    def encode(self, x, y=None):
        z = np.full((len(x), self.dim_z), 50.0, np.float32)
        if y is not None:
            label = np.argmax(y, axis=1)
            z[label == 0, :2] = 0.8 * Z_RANGE
            z[label == 1, :2] = -0.8 * Z_RANGE
        return z, np.ones_like(z)

    def decode(self, z, y=None):
        assert (y is None) == (self.n_classes == 0)
        z = np.asarray(z, np.float32)
        intensity = np.repeat(np.clip(0.1 + 0.8 * (z[:, :2] + Z_RANGE) / (2 * Z_RANGE), 0.05, 0.95), 392, axis=1)  # top: z1, bottom: z2
        return np.log(intensity) - np.log1p(-intensity)  # logits


def fake_z(tile):
    """The (z1, z2) a FakeModel decoded into a 28 x 28 tile."""
    intensity = np.array([tile[:14].mean(), tile[14:].mean()]) / 255.0
    return (intensity - 0.1) / 0.8 * 2 * Z_RANGE - Z_RANGE


def small_cfg(**changes):
    cfg = with_flag_defaults({})
    cfg.update(dim_z=2, n_train=100, num_epochs=3, PRR_n_img_x=4, PRR_n_img_y=3, PRR_resize_factor=0.5,
               PMLR=True, PMLR_n_img_x=5, PMLR_n_img_y=4, PMLR_n_samples=2000, PARR=True, PARR_resize_factor=0.75,
               interp_n_steps=6, PMLR_z_range=Z_RANGE)
    cfg.update(changes)
    return cfg


@pytest.fixture(scope="module")
def mnist():
    return load_run_data(small_cfg(add_noise=True))


def test_pmlr_grid_and_latent_map_share_orientation(tmp_path, mnist, monkeypatch):
    cfg = small_cfg()
    drawn = []
    monkeypatch.setattr(plot_utils, "save_figure", lambda fig, path, dpi: drawn.append(fig) or fig.set_dpi(dpi) or fig.savefig(path, dpi=dpi))
    figures.draw_pmlr(cfg, FakeModel(n_classes=10), mnist, tmp_path, "epoch_01", 1)
    grid = np.asarray(Image.open(tmp_path / "PMLR_epoch_01_label_0.png"), np.float32)
    assert grid.shape == (4 * 28, 5 * 28)
    (fig,) = drawn
    map_ax, grid_ax = fig.axes[0], fig.axes[1]
    (x0, x1), (y0, y1) = map_ax.get_xlim(), map_ax.get_ylim()
    assert (x0, x1, y0, y1) == (grid_ax.get_xlim() + grid_ax.get_ylim())
    assert x0 < x1 and y0 < y1  # z1 grows to the right and z2 upwards in the map, as drawn
    # Each corner tile of the grid is decoded from the z at the same corner of the map (its outermost tile centre).
    centre = np.array([Z_RANGE, Z_RANGE])
    for (row, col), (sx, sy) in {(0, 0): (-1, 1), (0, 4): (1, 1), (3, 0): (-1, -1), (3, 4): (1, -1)}.items():
        z = fake_z(grid[row * 28:(row + 1) * 28, col * 28:(col + 1) * 28])
        np.testing.assert_allclose(z, centre * [sx, sy], atol=0.05)
        corner = np.array([(x0, x1)[sx > 0], (y0, y1)[sy > 0]])
        assert np.all(np.abs(corner - z) < np.abs(corner + z))  # nearer this corner than the opposite one

    # In the saved map, label 0 (encoded at +0.8 range, +0.8 range) is drawn top right, label 1 bottom left.
    pixels = np.asarray(Image.open(tmp_path / "PMLR_map_epoch_01.png").convert("RGB"), np.float32)
    left, bottom, right, top = map_ax.get_window_extent().extents
    height = pixels.shape[0]
    inside = pixels[int(height - top):int(height - bottom), int(left):int(right)]
    for label, quadrant in ((0, (0, 1)), (1, (1, 0))):  # (row half, column half) of the map panel
        colour = np.array(plot_utils.LABEL_COLOURS[label]) * 255
        rows, cols = np.nonzero(np.abs(inside - colour).sum(axis=2) < 30)
        assert len(rows) > 0
        assert int(rows.mean() > inside.shape[0] / 2) == quadrant[0]
        assert int(cols.mean() > inside.shape[1] / 2) == quadrant[1]


def test_every_figure_has_the_pixel_size_its_flags_imply(tmp_path, mnist):
    cfg = small_cfg(add_noise=True, PRR_every=2, num_epochs=5)
    model = FakeModel(n_classes=10)
    (tmp_path / "metrics.csv").write_text("epoch,train_recon,train_kl,train_loss,test_recon,test_kl,test_loss,seconds\n"
                                          + "".join(f"{e},1,2,3,1,2,3,1\n" for e in range(1, 6)))
    figures.start_figures(cfg, mnist, tmp_path)
    for epoch in range(1, 6):
        figures.epoch_figures(cfg, model, mnist, tmp_path, epoch)
    figures.final_figures(cfg, model, mnist, tmp_path)
    size = lambda name: Image.open(tmp_path / name).size  # noqa: E731
    prr, pmlr, parr, head, gap = 14, 28, 21, plot_utils.HEADER, plot_utils.GAP
    for epoch in ("01", "02", "04", "05"):  # the first, every 2nd, the last
        assert size(f"PRR_epoch_{epoch}.png") == (4 * prr, 3 * prr)
        for label in range(10):
            assert size(f"PMLR_epoch_{epoch}_label_{label}.png") == (5 * pmlr, 4 * pmlr)
        assert size(f"PMLR_map_epoch_{epoch}.png") == (4 * 540, int((3 * 3.6 + 0.5) * 150))
        assert size(f"PARR_random_epoch_{epoch}.png") == (10 * parr, head + figures.PARR_ROWS * parr)
        assert size(f"PARR_images_epoch_{epoch}.png") == (12 * parr + 2 * gap, head + 10 * parr)  # clean, noisy, 0-9
    assert not list(tmp_path.glob("*epoch_03*"))
    assert size("PRR_input.png") == size("PRR_input_noisy.png") == (4 * prr, 3 * prr)
    assert size("denoising.png") == (3 * 4 * prr + 2 * gap, head + 3 * prr)
    assert size("interpolation.png") == ((6 + 2) * 28 + 2 * gap, head + 10 * 28)
    gif = Image.open(tmp_path / "interpolation.gif")
    assert gif.size == (10 * 28 * figures.GIF_SCALE, 28 * figures.GIF_SCALE)
    assert gif.n_frames == 2 * 6 - 2
    assert size("learning_curves.png") == (1200, 360)
    assert size("interpolation_all_pairs.png") == (280, 280) and size(f"PMLR_path_epoch_05.png") == (810, 675)
    pairs = Image.open(tmp_path / "interpolation_all_pairs.gif")
    assert pairs.size == (280, 280) and pairs.n_frames == 2 * 6 - 2
    walk = Image.open(tmp_path / "generation.gif")
    assert walk.size == (10 * 28 * figures.GIF_SCALE, 28 * figures.GIF_SCALE) and walk.n_frames == figures.WALK_FRAMES


def test_all_pairs_cells_move_from_digit_i_to_digit_j_and_the_walk_stays_on_the_prior(tmp_path, mnist):
    cfg = small_cfg(interp_n_steps=5)
    figures.draw_all_pairs(cfg, FakeModel(n_classes=10), mnist, tmp_path)
    gif = Image.open(tmp_path / "interpolation_all_pairs.gif")
    cell = lambda frame, i, j: (gif.seek(frame), np.asarray(gif.convert("L"), np.float32))[1][  # noqa: E731
        28 * i:28 * (i + 1), 28 * j:28 * (j + 1)]
    # FakeModel encodes digit 0 to (1.6, 1.6), digit 1 to (-1.6, -1.6): cell (0, 1) goes from the one to the other.
    np.testing.assert_allclose(fake_z(cell(0, 0, 1)), [1.6, 1.6], atol=0.05)
    np.testing.assert_allclose(fake_z(cell(2, 0, 1)), [0, 0], atol=0.05)
    np.testing.assert_allclose(fake_z(cell(4, 0, 1)), [-1.6, -1.6], atol=0.05)
    np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / "interpolation_all_pairs.png")),
                                  np.asarray((gif.seek(2), gif.convert("L"))[1]))  # the middle frame
    z = figures.walk_z(small_cfg(dim_z=400))
    steps = np.linalg.norm(np.diff(z, axis=0, append=z[:1]), axis=1) / np.sqrt(400)
    assert abs(z.std() - 1) < 0.05 and steps.max() < 0.25  # prior draws, small steps, the loop closed


def test_parr_images_carry_each_test_image_and_decode_every_label(tmp_path, mnist):
    cfg = small_cfg(PARR_resize_factor=1.0, add_noise=True)
    figures.draw_parr(cfg, FakeModel(n_classes=10), mnist, tmp_path, "epoch_01")
    image = np.asarray(Image.open(tmp_path / "PARR_images_epoch_01.png"), np.float32)
    idx = figures.one_per_label(mnist.y_test)
    assert list(np.argmax(mnist.y_test[idx], axis=1)) == list(range(10))
    head, gap = plot_utils.HEADER, plot_utils.GAP
    for row in (0, 1, 9):  # the clean test image of that row, then the noisy copy the encoder saw
        for left, x in ((0, mnist.x_test), (28 + gap, mnist.x_test_in)):
            tile = image[head + row * 28:head + (row + 1) * 28, left:left + 28]
            np.testing.assert_allclose(tile, np.rint(x[idx[row]].reshape(28, 28) * 255), atol=1)
    # FakeModel encodes label 0 to (+0.8, +0.8) * range: every column of that row decodes that z.
    for col in range(10):
        left = 2 * (28 + gap) + col * 28
        np.testing.assert_allclose(fake_z(image[head:head + 28, left:left + 28]), [1.6, 1.6], atol=0.05)


def test_parr_works_for_any_dim_z(tmp_path, mnist):
    cfg = small_cfg(dim_z=5, PARR_resize_factor=1.0)
    assert figures.random_z(cfg, figures.PARR_ROWS).shape == (figures.PARR_ROWS, 5)
    figures.draw_parr(cfg, FakeModel(n_classes=10, dim_z=5), mnist, tmp_path, "epoch_01")
    assert Image.open(tmp_path / "PARR_random_epoch_01.png").size == (10 * 28, plot_utils.HEADER + 10 * 28)
    assert Image.open(tmp_path / "PARR_images_epoch_01.png").size == (11 * 28 + plot_utils.GAP, plot_utils.HEADER + 10 * 28)


def test_learning_curves_wrap_long_term_lists_and_give_the_last_values():
    terms = ("neg_L", "neg_U", "class_nll", "loss", "recon", "kl")
    rows = [{"epoch": str(e), **{f"train_{t}": str(40.0 - e) for t in terms}, "test_loss": str(30.0 - e / 10),
             "test_error": str(40.0 / e)} for e in range(1, 81)]
    fig = plot_utils.learning_curves_figure(rows, "title")
    axes = [ax for ax in fig.axes if ax.get_visible()]
    assert len(fig.axes) == 8 and len(axes) == 7  # 2 rows of CURVE_COLUMNS = 4, the 8th panel hidden
    error = next(ax for ax in axes if ax.get_title() == "test classification error")
    assert error.get_yscale() == "log"  # 40% down to 0.5%
    assert [t.get_text() for t in error.get_legend().get_texts()] == ["test: 0.50"]
    loss = next(ax for ax in axes if ax.get_title() == "negative ELBO")
    assert [t.get_text() for t in loss.get_legend().get_texts()] == ["train: -40.00", "test: 22.00"]
    assert loss.get_yscale() == "linear" and loss.lines[0].get_marker() == "None"  # 80 epochs: lines only
    fig.savefig(BytesIO(), format="png")
    assert tuple(fig.get_size_inches() * fig.dpi) == (1600, 720)
    plot_utils.plt.close(fig)


def test_learning_curves_draw_the_validation_terms_beside_train_and_test():
    rows = [{"epoch": str(e), "train_loss": str(200.0 - e), "test_loss": str(190.0 - e), "valid_loss": str(195.0 - e)}
            for e in (1, 2)]
    fig = plot_utils.learning_curves_figure(rows, "title")
    (loss,) = [ax for ax in fig.axes if ax.get_visible()]
    assert [t.get_text() for t in loss.get_legend().get_texts()] == ["train: 198.00", "test: 188.00", "valid: 193.00"]
    plot_utils.plt.close(fig)


def test_a_figure_that_cannot_be_written_leaves_the_old_file_and_no_temporary_one(tmp_path, monkeypatch):
    import errno
    import os
    path = tmp_path / "samples_epoch_01.png"
    plot_utils.save_png(plot_utils.Image.new("L", (28, 28), 0), path)
    before = path.read_bytes()

    def full(fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    monkeypatch.setattr(os, "fsync", full)
    fig = plot_utils.plt.figure()
    for save in (lambda: plot_utils.save_png(plot_utils.Image.new("L", (28, 28), 255), path),
                 lambda: plot_utils.save_gif(path, [plot_utils.Image.new("L", (28, 28), 255)] * 2),
                 lambda: plot_utils.save_figure(fig, path)):
        with pytest.raises(OSError) as exc:
            save()
        assert (exc.value.errno, exc.value.filename) == (errno.ENOSPC, str(path))
        assert [p.name for p in tmp_path.iterdir()] == [path.name] and path.read_bytes() == before


def test_samples_decode_fixed_prior_draws_one_row_per_label(tmp_path, mnist):
    cfg = small_cfg(dim_z=3)
    for name, model in (("c", FakeModel(n_classes=10, dim_z=3)), ("u", FakeModel(n_classes=0, dim_z=3))):
        for epoch in ("epoch_01", "epoch_02"):
            (tmp_path / name).mkdir(exist_ok=True)
            figures.draw_samples(cfg, model, tmp_path / name, epoch)
        first, second = (np.asarray(Image.open(tmp_path / name / f"samples_epoch_0{e}.png")) for e in (1, 2))
        assert first.shape == (280, 280) and np.array_equal(first, second)  # the same z in every epoch
        tiles = first.reshape(10, 28, 10, 28).transpose(0, 2, 1, 3)
        # FakeModel ignores the label: a conditioned model's rows repeat the same 10 z, an unconditioned one's differ.
        assert np.array_equal(tiles[0], tiles[9]) == (name == "c")
    z = figures.prior_z(cfg, 1000)
    assert abs(z.mean()) < 0.1 and abs(z.std() - 1) < 0.1 and not np.array_equal(z[:10], figures.random_z(cfg, 10))


def test_parr_random_rows_are_uniform_at_dim_z_2_and_from_the_prior_above():
    z2 = figures.random_z(small_cfg(dim_z=2, PARR_z_range=1.5), 500)
    assert z2.min() >= -1.5 and z2.max() <= 1.5 and z2.std() > 0.8  # uniform on [-1.5, 1.5]: std 0.87
    z20 = figures.random_z(small_cfg(dim_z=20, PARR_z_range=1.5), 500)
    assert np.abs(z20).max() > 3 and abs(z20.std() - 1) < 0.05


def test_latent_map_shows_the_means_at_dim_z_2_and_a_tsne_above(tmp_path, mnist, monkeypatch):
    monkeypatch.setattr(figures, "LATENT_MAP_N", 60)
    points, axes = figures.latent_map_points(small_cfg(), FakeModel(n_classes=10), mnist)
    assert axes == ("z1", "z2") and points.shape == (60, 2)
    labels = np.argmax(mnist.y_test[:60], axis=1)
    np.testing.assert_allclose(points[labels == 0], 1.6)  # the means themselves
    cfg = small_cfg(dim_z=5)
    points, axes = figures.latent_map_points(cfg, FakeModel(n_classes=10, dim_z=5), mnist)
    assert axes == ("t-SNE 1", "t-SNE 2") and points.shape == (60, 2)
    again, _ = figures.latent_map_points(cfg, FakeModel(n_classes=10, dim_z=5), mnist)
    np.testing.assert_array_equal(points, again)  # seeded: every epoch and run the same embedding of the same z
    figures.draw_latent_map(cfg, FakeModel(n_classes=10, dim_z=5), mnist, tmp_path, "epoch_01", 1)
    assert Image.open(tmp_path / "latent_map_epoch_01.png").size == (460, 400)


@pytest.mark.parametrize("n_img", [10, 20])
def test_pmlr_map_shows_each_digit_at_28_pixels_or_more(n_img):
    grids = [plot_utils.Image.new("L", (28 * n_img, 28 * n_img))] * 10
    fig = plot_utils.manifold_figure(grids, [str(k) for k in range(10)], np.zeros((5, 2)), np.zeros(5, int), 2.0,
                                     n_img, n_img, "title")
    fig.set_dpi(plot_utils.MAP_DPI)
    fig.canvas.draw()
    for ax in fig.axes[1:11]:
        box = ax.get_images()[0].get_window_extent()
        assert min(box.width, box.height) / n_img >= 28
    plot_utils.plt.close(fig)
