"""Drawing: image grids and titled panels with PIL, plots with matplotlib (Agg), GIFs; saved losslessly and atomically."""
import matplotlib

matplotlib.use("Agg")  # files only: no display on a server or in CI
import matplotlib.pyplot as plt  # noqa: E402
import matplotlib.ticker  # noqa: E402
import numpy as np  # noqa: E402
from PIL import Image, ImageDraw, ImageFont  # noqa: E402

from data.mnist import IMAGE_SIZE  # noqa: E402
from runs.files import atomic_path  # noqa: E402

HEADER = 18  # pixels of title strip above a panel's blocks
GAP = 6  # pixels of white between the blocks of a panel
FONT_SIZE = 11  # 'noisy' and 'input' fit over one 28-pixel image
PAPER = 255  # white background of panels, so black MNIST blocks stand apart
DPI = 100
MAP_DPI = 150  # the PMLR map: its decoder grids show each digit at MAP_DIGIT pixels or more
MAP_DIGIT = 28
# The ten label colours of the latent map: matplotlib's qualitative 'tab10', one distinct colour per digit.
LABEL_COLOURS = plt.get_cmap("tab10").colors


def tile_side(resize_factor=1.0):
    """Pixels per side of one image in a grid."""
    return max(1, int(round(IMAGE_SIZE * resize_factor)))


def image_grid(images, n_img_x, n_img_y, resize_factor=1.0):
    """Tile the first n_img_x * n_img_y images (values in [0, 1]) row by row into one greyscale image."""
    images = np.asarray(images, dtype=np.float32).reshape(-1, IMAGE_SIZE, IMAGE_SIZE)[:n_img_x * n_img_y]
    side = tile_side(resize_factor)
    grid = Image.new("L", (n_img_x * side, n_img_y * side))
    for i, img in enumerate(images):
        tile = Image.fromarray(np.clip(np.rint(img * 255), 0, 255).astype(np.uint8))
        if side != IMAGE_SIZE:
            tile = tile.resize((side, side), Image.BICUBIC)
        grid.paste(tile, ((i % n_img_x) * side, (i // n_img_x) * side))
    return grid


def save_grid(path, images, n_img_x, n_img_y, resize_factor=1.0):
    """Save an image grid as PNG and return its path."""
    return save_png(image_grid(images, n_img_x, n_img_y, resize_factor), path)


def panel_size(block_sizes):
    """(width, height) of a panel holding blocks of the given (width, height) side by side."""
    return (sum(w for w, _ in block_sizes) + GAP * (len(block_sizes) - 1),
            HEADER + max(h for _, h in block_sizes))


def _centred_text(draw, font, text, left, width):
    """Draw text centred over [left, left + width) in the header strip, shortened until it fits."""
    while text and draw.textlength(text, font=font) > width:
        text = text[:-2] + "…" if len(text) > 2 else ""
    x = left + (width - draw.textlength(text, font=font)) / 2
    draw.text((x, HEADER // 2), text, fill=0, font=font, anchor="lm")


def panel(blocks, titles):
    """Blocks (PIL images) side by side on white, each under its title.

    A title is a string centred over its block, or a list of strings, one centred over each equal column
    (the column labels of a grid).
    """
    image = Image.new("L", panel_size([b.size for b in blocks]), PAPER)
    draw, font = ImageDraw.Draw(image), ImageFont.load_default(size=FONT_SIZE)
    left = 0
    for block, title in zip(blocks, titles):
        image.paste(block, (left, HEADER))
        labels = [title] if isinstance(title, str) else list(title)
        width = block.width / len(labels)
        for i, label in enumerate(labels):
            _centred_text(draw, font, label, left + i * width, width)
        left += block.width + GAP
    return image


def save_png(image, path):
    """Save a PIL image losslessly and return the path."""
    with atomic_path(path) as tmp:  # a full disk or a kill leaves the old file or none, never half of one
        image.save(tmp, format="PNG")
    return path


def save_gif(path, frames, ms_per_frame=120):
    """Save PIL frames as a looping animated GIF (greyscale, so its 256-level palette loses nothing)."""
    with atomic_path(path) as tmp:
        frames[0].save(tmp, format="GIF", save_all=True, append_images=frames[1:], duration=ms_per_frame, loop=0)
    return path


def save_figure(fig, path, dpi=DPI):
    """Save a matplotlib figure at a fixed size (no tight bbox, so the pixel size never depends on the data)."""
    try:
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format="png", dpi=dpi)
    finally:
        plt.close(fig)
    return path


def grid_extent(z_range, n_img_x, n_img_y):
    """Axes extent of a decoder grid whose tile centres sit at evenly spaced z in [-z_range, z_range]."""
    half_x = z_range / (n_img_x - 1) if n_img_x > 1 else z_range
    half_y = z_range / (n_img_y - 1) if n_img_y > 1 else z_range
    return (-z_range - half_x, z_range + half_x, -z_range - half_y, z_range + half_y)


def scatter_by_label(ax, points, labels, size=3):
    """points [N, 2] scattered with one colour per label, and the legend to the right of the axes."""
    for label in range(len(LABEL_COLOURS)):
        mine = labels == label
        ax.scatter(points[mine, 0], points[mine, 1], s=size, color=LABEL_COLOURS[label], label=str(label),
                   edgecolors="none")
    ax.legend(title="label", fontsize=7, title_fontsize=7, markerscale=3, loc="upper left",
              bbox_to_anchor=(1.0, 1.0), borderaxespad=0.2, handletextpad=0.1, frameon=False)


def latent_map_figure(points, labels, axis_names, title):
    """One scatter of 2-D latent points coloured by label, with a legend; returns the figure."""
    fig, ax = plt.subplots(figsize=(4.6, 4.0))
    scatter_by_label(ax, points, labels, size=7)
    ax.set_xlabel(axis_names[0], fontsize=8)
    ax.set_ylabel(axis_names[1], fontsize=8)
    ax.tick_params(labelsize=7)
    ax.set_title(title, fontsize=9)
    fig.subplots_adjust(left=0.12, right=0.84, bottom=0.11, top=0.87)
    return fig


def manifold_figure(grids, grid_titles, z_mean, labels, z_range, n_img_x, n_img_y, title):
    """Decoder grids beside the latent map, all on the same z1 (right) / z2 (up) axes; returns the figure.

    grids: PIL images whose tile (row i, column j) is decoded from z1 = z[j], z2 = z[n_img_y - 1 - i].
    z_mean: [N, 2] encoder means, labels: [N] ints, scattered in the map with one colour per label.
    """
    n_panels = len(grids) + 1
    n_cols = min(n_panels, 4)
    n_rows = -(-n_panels // n_cols)
    # An axes fills about 0.68 of its panel's side (the margins below): large enough for MAP_DIGIT pixels a digit.
    side = max(3.6, MAP_DIGIT * max(n_img_x, n_img_y) / MAP_DPI / 0.66)
    fig, axes = plt.subplots(n_rows, n_cols, figsize=(side * n_cols, side * n_rows + 0.5), squeeze=False)
    extent = grid_extent(z_range, n_img_x, n_img_y)
    flat = axes.ravel()
    map_ax = flat[0]
    inside = np.all(np.abs(z_mean) <= np.array(extent[1::2]), axis=1)
    scatter_by_label(map_ax, z_mean, labels)
    map_ax.set_title(f"latent map: {len(z_mean)} test images\n({(~inside).sum()} outside the plotted range)",
                     fontsize=9)
    for ax, grid, grid_title in zip(flat[1:], grids, grid_titles):
        ax.imshow(np.asarray(grid), cmap="gray", vmin=0, vmax=255, extent=extent, interpolation="nearest")
        ax.set_title(grid_title, fontsize=9)
    for ax in flat[:n_panels]:
        ax.set_xlim(extent[0], extent[1])
        ax.set_ylim(extent[2], extent[3])
        ax.set_aspect("equal")
        # Fixed ticks at the grid's outer and centre tiles: clearer than automatic ones, and far faster to draw.
        ax.set_xticks([-z_range, 0, z_range])
        ax.set_yticks([-z_range, 0, z_range])
        ax.set_xlabel("z1", fontsize=8, labelpad=1)
        ax.set_ylabel("z2", fontsize=8, labelpad=1)
        ax.tick_params(labelsize=7)
    for ax in flat[n_panels:]:
        ax.axis("off")
    fig.suptitle(title, fontsize=11)
    fig.subplots_adjust(left=0.06, right=0.97, bottom=0.07, top=0.86 if n_rows == 1 else 0.91,
                        wspace=0.45, hspace=0.4)
    return fig


def path_figure(paths, grid, points, z_range, n_img_x, n_img_y, title):
    """Lines in the z plane (paths [n, steps, 2], path d starting at digit d) over a decoder grid (a PIL image, as
    manifold_figure's) or, if grid is None, over points = (z [N, 2], labels [N]); returns the figure."""
    extent = grid_extent(z_range, n_img_x, n_img_y)
    side = max(4.5, MAP_DIGIT * max(n_img_x, n_img_y) / MAP_DPI / 0.75)
    fig, ax = plt.subplots(figsize=(side + 0.9, side))
    if grid is not None:
        ax.imshow(np.asarray(grid), cmap="gray", vmin=0, vmax=255, extent=extent, interpolation="nearest")
    else:
        scatter_by_label(ax, points[0], points[1], size=2)
    for d, path in enumerate(paths):
        ax.plot(path[:, 0], path[:, 1], "-", color="red", linewidth=1.2, marker=".", markersize=4)
        ax.annotate(str(d), path[0], color="red", fontsize=9, fontweight="bold", xytext=(3, 3),
                    textcoords="offset points")
    ax.set_xlim(extent[0], extent[1])
    ax.set_ylim(extent[2], extent[3])
    ax.set_aspect("equal")
    ax.set_xlabel("z1", fontsize=8)
    ax.set_ylabel("z2", fontsize=8)
    ax.tick_params(labelsize=7)
    ax.set_title(title, fontsize=9)
    fig.subplots_adjust(left=0.08, right=0.84, bottom=0.08, top=0.93)
    return fig


CURVE_COLUMNS = 4  # learning-curve panels per row
MARKED_EPOCHS = 50  # learning curves of at most this many epochs mark each epoch with a dot
TERM_TITLES = {"recon": "reconstruction -log p(x|z)", "kl": "KL(q(z|x) || p(z))", "loss": "negative ELBO",
               "neg_L": "-L(x,y), labelled bound", "neg_U": "-U(x), unlabelled bound",
               "class_nll": "-log q(y|x) on labelled images", "error": "test classification error"}


def learning_curves_figure(rows, title):
    """Training and test terms per epoch, one panel per term found in the metrics.csv rows, at most
    CURVE_COLUMNS panels a row; each legend gives the last epoch's value. Returns the figure."""
    epochs = [int(r["epoch"]) for r in rows]
    terms = list(dict.fromkeys(k.split("_", 1)[1] for k in rows[0] if k.startswith(("train_", "test_"))))
    n_cols = min(CURVE_COLUMNS, len(terms))
    n_rows = -(-len(terms) // n_cols)
    fig, axes = plt.subplots(n_rows, n_cols, figsize=(4 * n_cols, 3.6 * n_rows), squeeze=False, layout="constrained")
    marker = len(epochs) <= MARKED_EPOCHS  # dots on short runs; on long ones they would hide the line
    for ax, term in zip(axes.flat, terms):
        for split, style in (("train", "o-"), ("test", "s--"), ("valid", "^:")):  # valid: with --n_valid
            if f"{split}_{term}" in rows[0]:
                values = [float(r[f"{split}_{term}"]) for r in rows]
                ax.plot(epochs, values, style if marker else style.strip("os"), markersize=3,
                        label=f"{split}: {values[-1]:.2f}")
        if term == "error" and min(values) > 0 and max(values) > 3 * min(values):
            ax.set_yscale("log")  # an error falling from 40% to 4%: the late tenths stay visible
            for axis_format in (ax.yaxis.set_major_formatter, ax.yaxis.set_minor_formatter):
                axis_format(matplotlib.ticker.FormatStrFormatter("%g"))
        ax.set_title(TERM_TITLES.get(term, term), fontsize=10)
        ax.set_xlabel("epoch")
        ax.set_ylabel("% of test images" if term == "error" else "nats per image")
        ax.grid(True, alpha=0.3, which="both")
        ax.legend(fontsize=8, title="last epoch", title_fontsize=7)
        ax.xaxis.get_major_locator().set_params(integer=True)
    for ax in axes.flat[len(terms):]:
        ax.set_visible(False)
    fig.suptitle(title, fontsize=11)
    return fig
