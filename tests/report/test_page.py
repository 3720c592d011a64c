"""The index page of a finished run: every figure with a caption, in order, and the final metrics."""
import json
import re

import pytest

from report.page import caption


@pytest.mark.slow
def test_index_page_references_every_figure_and_only_existing_files(finished_run):
    run_dir = finished_run
    page = (run_dir / "index.html").read_text()
    referenced = set(re.findall(r'(?:src|href)="([^"#]+)"', page))  # not the contents' #anchors
    assert referenced, "the page links nothing"
    for name in referenced:
        assert not name.startswith(("/", "http")) and (run_dir / name).is_file(), name
    figures_written = {p.name for p in run_dir.iterdir() if p.suffix in (".png", ".gif")}
    assert {"PRR_input_noisy.png", "PMLR_map_epoch_02.png", "PARR_images_epoch_01.png", "interpolation.gif",
            "denoising.png", "learning_curves.png"} <= figures_written
    assert figures_written <= referenced
    for name in figures_written:
        assert caption(name, json.loads((run_dir / "config.json").read_text())), name
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert f"<th>test_neg_elbo</th><td>{metrics['test_neg_elbo']:.2f}</td>" in page and "noise_prob" in page
    order = [name for name in re.findall(r'<img src="([^"]+)"', page)]
    assert order.index("PRR_input.png") < order.index("PRR_epoch_01.png") < order.index("PRR_epoch_02.png")
    assert 0 < metrics["figure_seconds"] < metrics["wall_seconds"]


@pytest.mark.slow
def test_index_page_has_contents_curves_first_each_figure_once_and_tensorboard(finished_run):
    page = (finished_run / "index.html").read_text()
    anchors = re.findall(r'<li><a href="#(\w+)">', page)
    assert anchors[:2] == ["curves", "latent"] and {"metrics", "tensorboard", "config"} <= set(anchors)
    assert all(f'<h2 id="{a}">' in page for a in anchors)
    shown = re.findall(r'<img src="([^"]+)"', page)
    assert shown[:3] == ["learning_curves.png", "samples_epoch_01.png", "samples_epoch_02.png"]
    assert len(shown) == len(set(shown))
    # The per-label decoder grids are in the combined PMLR map: linked, not shown again.
    assert "PMLR_map_epoch_02.png" in shown and not any(n.startswith("PMLR_epoch") for n in shown)
    assert 'href="PMLR_epoch_02_label_7.png"' in page
    assert f"tensorboard --logdir {finished_run / 'tensorboard'}" in page and "PROJECTOR" in page
