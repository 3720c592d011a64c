"""--restore: a finished run's trained model, its figures and test metrics remade without training."""
import shutil

from data.prepare import load_run_data
from evaluation.metrics import evaluate, make_evaluate, make_test_error
from report import figures
from runs.files import write_json
from report.page import write_index
from training.families import load_trained_model
from training.flags import MODELS


def restore(cfg, run_dir, out_dir):
    """Load run_dir's trained model; draw cfg's figures and measure the test terms into out_dir; return the metrics."""
    _, model = load_trained_model(run_dir)
    data = load_run_data(cfg)
    figures.start_figures(cfg, data, out_dir)
    figures.epoch_figures(cfg, model, data, out_dir, cfg["num_epochs"])
    shutil.copyfile(run_dir / "metrics.csv", out_dir / "metrics.csv")  # the training history the curves show
    figures.final_figures(cfg, model, data, out_dir)
    terms = evaluate(make_evaluate(model), data.x_test_in, data.x_test, data.y_test, data.eps_test)
    metrics = {"restored_from": str(run_dir), "epochs": cfg["num_epochs"], "n_test": len(data.x_test),
               **{f"test_{t}": float(v) for t, v in terms.items()}, "test_neg_elbo": float(terms["loss"])}
    if MODELS[cfg["model"]].semi_supervised:  # M2 and M1+M2 are classifiers too
        metrics["test_error"] = make_test_error(model.classify)(data.x_test, data.y_test)
    write_json(out_dir / "metrics.json", metrics)
    write_index(cfg, out_dir)
    return metrics

