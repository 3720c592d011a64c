"""index.html: a run's page, every figure with its caption, the config and the final metrics."""
import html
import json
import re
from pathlib import Path

from runs.files import write_atomic


def run_title(cfg, epoch=None):
    """'CVAE, dim_z = 20, denoising (noise 0.5), after epoch 3': what a figure's or the page's title says."""
    noise = f", denoising (noise {cfg['noise_prob']})" if cfg["add_noise"] else ""
    after = f", after epoch {epoch}" if epoch else ""
    return f"{cfg['model'].upper()}, dim_z = {cfg['dim_z']}{noise}{after}"


def caption(name, cfg):
    """One line saying what the figure file `name` shows, or None for a file the page does not know."""
    epoch = re.search(r"epoch_(\d+)", name)
    after = f", after epoch {int(epoch.group(1))}" if epoch else ""
    n_prr = cfg["PRR_n_img_x"] * cfg["PRR_n_img_y"]
    rng = f"[-{cfg['PMLR_z_range']}, {cfg['PMLR_z_range']}]²"
    label = re.search(r"_label_(\d)", name)
    rules = [
        (r"PRR_input\.png", f"PRR: the first {n_prr} test images, the fixed inputs of every PRR figure."),
        (r"PRR_input_noisy\.png", f"PRR: the same images with salt-and-pepper noise (p = {cfg['noise_prob']}), "
                                  "as the encoder sees them."),
        (r"PRR_epoch_\d+\.png", f"PRR: reconstructions of the PRR inputs{after} (decoding the posterior mean)."),
        (r"PMLR_epoch_\d+(_label_\d)?\.png",
         f"PMLR: the decoder over an evenly spaced {cfg['PMLR_n_img_x']} x {cfg['PMLR_n_img_y']} grid on {rng}"
         + (f", label {label.group(1)}" if label else "") + f", z1 growing to the right, z2 upwards{after}."),
        (r"PMLR_map_epoch_\d+\.png", f"PMLR: latent map (encoder means of {cfg['PMLR_n_samples']} test images, "
                                     f"coloured by label) beside the decoder grids, on the same axes{after}; its title counts "
                                     "the points outside the grid's range (a larger --PMLR_z_range shows them)."),
        (r"PARR_random_epoch_\d+\.png", "PARR (a): each row one fixed random z ("
                                        + (f"uniform on [-{cfg['PARR_z_range']}, {cfg['PARR_z_range']}]²"
                                           if cfg["dim_z"] == 2 else "drawn from the prior N(0, I)")
                                        + f"), column k decoded with label k{after}."),
        (r"samples_epoch_\d+\.png", "Samples: images decoded from fixed draws z ~ N(0, I), the same in every "
                                    f"epoch (a label-conditioned model: row k with label k){after}."),
        (r"latent_map_epoch_\d+\.png", "Latent map: the encoder means of the first test images, coloured by label"
                                       + (" (a t-SNE embedding of them in two dimensions)" if cfg["dim_z"] != 2 else "")
                                       + f"{after}."),
        (r"PARR_images_epoch_\d+\.png", "PARR (b): the first test image of each digit, encoded to z and decoded "
                                        f"with every label 0-9, carrying one writer's style across the digits{after}."),
        (r"interpolation\.png", "Latent interpolation from the first test image of each digit to that of the next "
                                "digit, decoded at evenly spaced points on the straight line between their encoder "
                                "means (a conditioned model's label blended along the same line)."),
        (r"interpolation\.gif", "The same interpolation, animated: all ten rows at once, forwards and back."),
        (r"interpolation_all_pairs\.png", "Interpolation between every pair of digits: cell (i, j) is decoded "
                                          "halfway along the line from the first test image of digit i to that of "
                                          "digit j (the diagonal: the digits themselves, reconstructed)."),
        (r"interpolation_all_pairs\.gif", "The same, animated: every cell moves from digit i (row) to digit j "
                                          "(column) and back."),
        (r"generation\.gif", "Generation: digits decoded along a smooth random walk in z whose every point is a "
                             "draw from the prior N(0, I), each frame decoded with every label 0-9 (a label-"
                             "conditioned model) side by side."),
        (r"PMLR_path_epoch_\d+\.png", f"The interpolation lines from each digit d to d + 1 (red, one dot per "
                                      f"decoded point) in the z plane, over the decoded manifold (a VAE) or the "
                                      f"latent map (a conditioned model){after}."),
        (r"denoising\.png", f"Denoising: the first {n_prr} test images, their noisy copies and the restorations "
                            "after the last epoch."),
        (r"learning_curves\.png", "Learning curves: training (mean over the epoch) and test loss terms per epoch."),
    ]
    return next((text for pattern, text in rules if re.fullmatch(pattern, name)), None)


# The page's sections in order: (anchor, heading, the file-name prefixes shown there, in this order).
SECTIONS = (
    ("curves", "Learning curves and samples", ("learning_curves", "samples")),
    ("latent", "Latent space", ("latent_map", "PMLR_map", "PMLR_path", "PMLR_epoch")),
    ("reconstructions", "Reconstructions", ("PRR_input", "PRR_epoch", "denoising")),
    ("labels", "Label transfer", ("PARR_random", "PARR_images")),
    ("interpolation", "Interpolation and generation", ("interpolation", "generation")),
)
KINDS = tuple(prefix for _, _, prefixes in SECTIONS for prefix in prefixes)


def kind_of(name):
    """The SECTIONS prefix a figure file belongs to (the longest that matches), or None."""
    return max((k for k in KINDS if name.startswith(k)), key=len, default=None)


def figure_files(run_dir):
    """The run folder's PNG and GIF files in page order: by section and kind, sorted by name within a kind."""
    files = [p.name for p in Path(run_dir).iterdir() if p.suffix in (".png", ".gif")]
    rank = lambda name: KINDS.index(kind_of(name)) if kind_of(name) else len(KINDS)  # noqa: E731
    return sorted(files, key=lambda name: (rank(name), Path(name).suffix != ".png", name))  # a GIF after its PNG


def linked_only(name, files):
    """Whether a figure is linked rather than shown: a PMLR decoder grid drawn again in its epoch's PMLR map."""
    epoch = re.match(r"PMLR_(epoch_\d+)", name)
    return bool(epoch) and f"PMLR_map_{epoch.group(1)}.png" in files


def _figure(name, cfg):
    text = caption(name, cfg) or name
    return (f'<figure><a href="{html.escape(name)}"><img src="{html.escape(name)}" alt="{html.escape(name)}">'
            f"</a><figcaption><b>{html.escape(name)}</b>: {html.escape(text)}</figcaption></figure>")


def _table(mapping):
    shown = lambda v: f"{v:.2f}" if isinstance(v, float) else str(v)  # noqa: E731  (nats to 0.01)
    rows = "".join(f"<tr><th>{html.escape(str(k))}</th><td>{html.escape(shown(v))}</td></tr>"
                   for k, v in mapping.items())
    return f"<table>{rows}</table>"


def figure_sections(cfg, files):
    """(anchor, heading, html) of each section that has figures; PMLR's per-label grids as links under their map."""
    sections = []
    for anchor, heading, prefixes in SECTIONS:
        mine = [name for name in files if kind_of(name) in prefixes]
        shown = [_figure(name, cfg) for name in mine if not linked_only(name, files)]
        links = [name for name in mine if linked_only(name, files)]
        if links:
            shown.append("<p>The decoder grids of the PMLR maps, one file each: "
                         + ", ".join(f'<a href="{html.escape(n)}">{html.escape(n)}</a>' for n in links) + ".</p>")
        if shown:
            sections.append((anchor, heading, "\n".join(shown)))
    return sections


def tensorboard_section(run_dir):
    """How to open the run's TensorBoard events and its Embedding Projector, when the run wrote them."""
    if not (run_dir / "tensorboard").is_dir():
        return None
    return ("tensorboard", "TensorBoard and the Embedding Projector",
            "<p>The metrics of every epoch, the samples and reconstructions of each figure epoch, and the "
            f"latent means of test images in the Embedding Projector: <code>tensorboard --logdir "
            f"{html.escape(str(run_dir / 'tensorboard'))}</code>, then open http://localhost:6006 (the PROJECTOR "
            "tab explores the latent space with PCA, t-SNE or UMAP, each point a test digit coloured or labelled "
            "by its label). <code>tensorboard --logdir results</code> shows every run under results/ side by side.</p>")


def write_index(cfg, run_dir):
    """index.html: a table of contents, the figures by section with their captions, the run's final metrics,
    TensorBoard and the config; links are relative."""
    run_dir = Path(run_dir)
    metrics_path = run_dir / "metrics.json"
    metrics = json.loads(metrics_path.read_text()) if metrics_path.exists() else {}
    sections = figure_sections(cfg, figure_files(run_dir))
    sections.append(("metrics", f"Final metrics (losses in nats per image; test: all {metrics.get('n_test', '')} test images)",
                     (_table(metrics) if metrics else "<p>metrics.json is not written yet (the run has not finished).</p>")
                     + '<p>Per-epoch numbers: <a href="metrics.csv">metrics.csv</a>.</p>'))
    sections.append(tensorboard_section(run_dir))
    sections.append(("config", "Config (config.json)", _table(cfg)))
    sections = [s for s in sections if s]
    toc = "".join(f'<li><a href="#{anchor}">{html.escape(heading.split(" (")[0])}</a></li>'
                  for anchor, heading, _ in sections)
    body = "\n".join(f'<h2 id="{anchor}">{html.escape(heading)}</h2>\n{content}' for anchor, heading, content in sections)
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(run_dir.name)}</title>
<style>
body {{ font-family: sans-serif; margin: 1.5em; }}
figure {{ display: inline-block; vertical-align: top; margin: 0 1.5em 1.5em 0; max-width: 100%; }}
img {{ image-rendering: pixelated; max-width: 100%; border: 1px solid #ccc; }}
figcaption {{ max-width: 40em; font-size: 0.9em; }}
table {{ border-collapse: collapse; font-size: 0.9em; }} th, td {{ text-align: left; padding: 0.1em 0.8em; }}
th {{ font-weight: normal; color: #555; }}
</style></head><body>
<h1>{html.escape(run_dir.name)}: {html.escape(run_title(cfg))}</h1>
<nav><ul>{toc}</ul></nav>
{body}
</body></html>
"""
    write_atomic(run_dir / "index.html", page)
    return run_dir / "index.html"
