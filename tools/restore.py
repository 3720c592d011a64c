"""--restore: a finished run's trained model, its figures and test metrics remade without training."""
from data.prepare import load_run_data
from evaluation.metrics import evaluate, make_evaluate, make_test_error
from report import figures
from report.page import write_index
from runs.files import atomic_path
from runs.folder import RunFolder
from training.families import load_trained_model
from training.flags import MODELS


def restore(cfg, run_dir, out_dir):
    """Load run_dir's trained model; draw cfg's figures and measure the test terms into out_dir (a new folder inside
    it); return the metrics. The run's files are read against one manifest, so that they are one state of it."""
    run, out = RunFolder(run_dir).pinned(), RunFolder(out_dir)
    _, model = load_trained_model(run)
    history = run.read("metrics.csv")  # the training history the curves show, as checked
    data = load_run_data(cfg)
    figures.start_figures(cfg, data, out.path)
    figures.epoch_figures(cfg, model, data, out.path, cfg["num_epochs"])
    with atomic_path(out.path / "metrics.csv") as tmp:  # the learning curves read it; finish_restored records it
        tmp.write_bytes(history)
    figures.final_figures(cfg, model, data, out.path)
    terms = evaluate(make_evaluate(model), data.x_test_in, data.x_test, data.y_test, data.eps_test)
    metrics = {"restored_from": str(run.path), "epochs": cfg["num_epochs"], "n_test": len(data.x_test),
               **{f"test_{t}": float(v) for t, v in terms.items()}, "test_neg_elbo": float(terms["loss"])}
    if MODELS[cfg["model"]].semi_supervised:  # M2 and M1+M2 are classifiers too
        metrics["test_error"] = make_test_error(model.classify)(data.x_test, data.y_test)
    out.finish_restored(metrics, history)
    write_index(cfg, out.path)
    return metrics
