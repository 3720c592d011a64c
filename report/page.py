"""index.html: a run's page, every figure with its caption, the config and the final metrics."""
import html
import json
import re
from pathlib import Path

from report.files import write_atomic


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
        (r"denoising\.png", f"Denoising: the first {n_prr} test images, their noisy copies and the restorations "
                            "after the last epoch."),
        (r"learning_curves\.png", "Learning curves: training (mean over the epoch) and test loss terms per epoch."),
    ]
    return next((text for pattern, text in rules if re.fullmatch(pattern, name)), None)


def figure_files(run_dir):
    """The run folder's PNG and GIF files in page order: sorted by name within each kind."""
    kinds = ("learning_curves", "samples", "latent_map", "PRR_input", "PRR_epoch", "PMLR_epoch", "PMLR_map", "PARR_random", "PARR_images", "interpolation", "denoising")
    files = [p.name for p in Path(run_dir).iterdir() if p.suffix in (".png", ".gif")]
    rank = lambda name: next((i for i, k in enumerate(kinds) if name.startswith(k)), len(kinds))  # noqa: E731
    return sorted(files, key=lambda name: (rank(name), Path(name).suffix != ".png", name))  # a GIF after its PNG


def _table(mapping):
    shown = lambda v: f"{v:.2f}" if isinstance(v, float) else str(v)  # noqa: E731  (nats to 0.01)
    rows = "".join(f"<tr><th>{html.escape(str(k))}</th><td>{html.escape(shown(v))}</td></tr>"
                   for k, v in mapping.items())
    return f"<table>{rows}</table>"


def write_index(cfg, run_dir):
    """index.html: every figure with its caption, the run's config and final metrics; links are relative."""
    run_dir = Path(run_dir)
    metrics_path = run_dir / "metrics.json"
    metrics = json.loads(metrics_path.read_text()) if metrics_path.exists() else {}
    items = []
    for name in figure_files(run_dir):
        text = caption(name, cfg) or name
        items.append(f'<figure><a href="{html.escape(name)}"><img src="{html.escape(name)}" alt="{html.escape(name)}">'
                     f"</a><figcaption><b>{html.escape(name)}</b>: {html.escape(text)}</figcaption></figure>")
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(run_dir.name)}</title>
<style>
body {{ font-family: sans-serif; margin: 1.5em; }}
figure {{ display: inline-block; vertical-align: top; margin: 0 1.5em 1.5em 0; max-width: 100%; }}
img {{ image-rendering: pixelated; max-width: 100%; border: 1px solid #ccc; }}
figcaption {{ max-width: 40em; font-size: 0.9em; }}
table {{ border-collapse: collapse; font-size: 0.9em; }} th, td {{ text-align: left; padding: 0.1em 0.8em; }}
th {{ font-weight: normal; color: #555; }} details {{ margin-bottom: 1em; }}
</style></head><body>
<h1>{html.escape(run_dir.name)}: {html.escape(run_title(cfg))}</h1>
<h2>Final metrics (losses in nats per image; test: all {metrics.get("n_test", "")} test images)</h2>
{_table(metrics) if metrics else "<p>metrics.json is not written yet (the run has not finished).</p>"}
<details><summary>Config (config.json)</summary>{_table(cfg)}</details>
<p>Per-epoch numbers: <a href="metrics.csv">metrics.csv</a>.</p>
<h2>Figures</h2>
{chr(10).join(items)}
</body></html>
"""
    write_atomic(run_dir / "index.html", page)
    return run_dir / "index.html"
