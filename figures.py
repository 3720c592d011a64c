"""Which figures a run draws, and when: called by the training loop after each epoch."""
import plot_utils
from evaluate import reconstruct


def prr_shape(cfg):
    return cfg["PRR_n_img_x"], cfg["PRR_n_img_y"], cfg["PRR_resize_factor"]


def start_figures(cfg, data, run_dir):
    """Figures that need no model: the PRR input grids."""
    if cfg["PRR"]:
        n_x, n_y, factor = prr_shape(cfg)
        plot_utils.save_grid(run_dir / "PRR_input.png", data.x_test[:n_x * n_y], n_x, n_y, factor)
        if cfg["add_noise"]:
            plot_utils.save_grid(run_dir / "PRR_input_noisy.png", data.x_test_in[:n_x * n_y], n_x, n_y, factor)


def epoch_figures(cfg, model, data, run_dir, epoch):
    """Figures after an epoch: PRR reconstructions after the first and the last epoch."""
    if cfg["PRR"] and epoch in (1, cfg["num_epochs"]):
        n_x, n_y, factor = prr_shape(cfg)
        n = n_x * n_y
        width = max(2, len(str(cfg["num_epochs"])))
        plot_utils.save_grid(run_dir / f"PRR_epoch_{epoch:0{width}d}.png",
                             reconstruct(model, data.x_test_in[:n], data.y_test[:n]), n_x, n_y, factor)
