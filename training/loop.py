"""The one engine: the epoch loop with its checkpoints, and the run recipe every model family follows."""
import time
from dataclasses import dataclass

import tf_setup  # noqa: F401  (quiet TensorFlow import)
import keras

from data.prepare import load_run_data
from evaluation.metrics import evaluate, make_evaluate
from report import figures
from report.page import write_index
from report.tensorboard import Board
from runs import checkpoint


@dataclass(frozen=True)
class Family:
    """A model family: its model class (built from the flags by from_flags) and the Training that trains it."""
    model: type
    training: type

    def build_model(self, cfg):
        """The untrained model cfg describes."""
        return self.model.from_flags(cfg)


class Training:
    """What a family adds to the recipe, set up for one run: the model and optimizer, its steps, its lines.

    A subclass's __init__(family, cfg, data, run_dir) sets model and optimizer (built, so that a checkpoint can
    load into it); terms names the summed training terms. train_epoch, train_terms and line are its own.
    """
    terms = ()
    chosen_by = ("loss", "neg_elbo")  # metrics.csv's valid_<first> picks the best epoch: metrics.json's *_<second>_at_best

    def train_epoch(self, position, label, stop):
        """Train the rest of position's epoch, updating position; False if stop() ended it early."""
        raise NotImplementedError

    def train_terms(self, sums):
        """The epoch's training terms, by name, from their sums."""
        raise NotImplementedError

    def epoch_extra(self, data):
        """Measurements after each epoch beyond the test terms (M2: test and validation error)."""
        return {}

    def line(self, label, train_terms, test_terms, valid_terms, extra, seconds):
        """The one summary line printed after each epoch (valid_terms empty without --n_valid)."""
        raise NotImplementedError

    def run_metrics(self, rows):
        """Entries of metrics.json beyond the common ones, given the run's metrics.csv rows."""
        return {}


def make_optimizer(cfg, steps_per_epoch):
    """Adam at --learn_rate, decaying exponentially to lr_decay * learn_rate over the run's steps (--lr_decay)."""
    rate = cfg["learn_rate"]
    if cfg["lr_decay"] != 1.0:
        rate = keras.optimizers.schedules.ExponentialDecay(rate, decay_steps=cfg["num_epochs"] * steps_per_epoch,
                                                           decay_rate=cfg["lr_decay"])
    return keras.optimizers.Adam(learning_rate=rate)


class Stopwatch:
    """Adds up the seconds spent inside `with stopwatch:` blocks."""

    seconds = 0.0

    def __enter__(self):
        self._start = time.perf_counter()

    def __exit__(self, *exc):
        self.seconds += time.perf_counter() - self._start


def epoch_metrics(epoch, train_terms, test_terms, seconds, extra=None, valid_terms=None):
    """A finished epoch's metrics.csv row (terms to 4 decimals, extra to 2) and its full-precision metrics, as
    checkpointed_epochs' end_epoch returns them; extra (M2: test_error) and valid_terms (--n_valid) join both."""
    extra, terms = extra or {}, {"train": train_terms, "test": test_terms, "valid": valid_terms or {}}
    row = {"epoch": epoch, **{f"{s}_{t}": round(v, 4) for s, ts in terms.items() for t, v in ts.items()},
           **{k: round(v, 2) for k, v in extra.items()}, "seconds": round(seconds, 3)}
    return row, {**{f"{s}_{t}": float(v) for s, ts in terms.items() for t, v in ts.items()}, **extra}


def best_by_validation(rows, chosen_by=Training.chosen_by):
    """metrics.json's entries of the epoch with the lowest valid_<measure> in metrics.csv (the first of equals):
    the epoch one would stop at, chosen without the test set, with its validation and test numbers."""
    measure, name = chosen_by
    best = min(rows, key=lambda row: float(row[f"valid_{measure}"]))
    return {"best_valid_epoch": int(best["epoch"]), f"valid_{name}_at_best": float(best[f"valid_{measure}"]),
            f"test_{name}_at_best": float(best[f"test_{measure}"])}


def checkpointed_epochs(cfg, folder, model, optimizer, position, train_one, end_epoch, on_epoch, start_time):
    """The epoch loop every model shares: train from position to --num_epochs, checkpointing after each epoch.

    train_one(position, label, stop) trains the rest of position's epoch (False if stop() ended it early);
    end_epoch(position, label, epoch_start) evaluates, prints and draws, returning the epoch's metrics.csv row
    and its full-precision metrics. folder.save_checkpoint writes the checkpoint and metrics.csv whole from it after
    each epoch (no gaps, no repeats after a resume); on_epoch(row), if given, gets each row. A stop request (Ctrl-C,
    SIGTERM) saves the position, even inside an epoch, and raises checkpoint.Stopped. Returns the last position and
    the run's wall seconds in all, resumed parts included.
    """
    wall_before, num_epochs = position.wall_seconds, cfg["num_epochs"]

    def save(position):
        position.wall_seconds = wall_before + time.time() - start_time
        folder.save_checkpoint(model, optimizer, position)

    with checkpoint.ctrl_c_requests() as stop:
        while position.epoch <= num_epochs:
            epoch_start = time.time() - position.epoch_seconds
            label = f"epoch {position.epoch:>{len(str(num_epochs))}}/{num_epochs}"
            if not train_one(position, label, stop):
                position.epoch_seconds = time.time() - epoch_start
                save(position)
                raise checkpoint.Stopped(stop())
            row, position.final = end_epoch(position, label, epoch_start)
            position.rows.append(row)
            position = position.next_epoch()
            save(position)
            if on_epoch:
                on_epoch(row)
            if stop():
                raise checkpoint.Stopped(stop())
    return position, wall_before + time.time() - start_time


def run(family, cfg, folder, on_epoch=None):
    """Train the model cfg describes, evaluate on the test set each epoch, write everything into the run folder
    (a runs.folder.RunFolder).

    The recipe of every family: seed, data, the family's model, optimizer and steps, checkpoint, epochs, timings,
    figures, weights and metrics.json, index page. Each epoch ends with a checkpoint; a folder that holds one is
    continued from it. on_epoch(row), if given, gets each epoch's metrics.csv row. Ctrl-C or SIGTERM saves a
    checkpoint, then raises checkpoint.Stopped. Returns metrics.json's contents.
    """
    start_time, run_dir = time.time(), folder.path
    keras.utils.set_random_seed(cfg["seed"])
    data = load_run_data(cfg)
    training = family.training(family, cfg, data, run_dir)
    model = training.model
    eval_batch = make_evaluate(model)
    position = (folder.load_checkpoint(model, training.optimizer)
                or checkpoint.Position(sums=[0.0] * len(training.terms)))
    if cfg["lr_decay"] == 1.0:  # the checkpoint holds the rate it trained with; --resume --learn_rate may change it
        training.optimizer.learning_rate.assign(cfg["learn_rate"])
    # Where the run's time goes, reported in metrics.json: figures must not dominate it (benchmarks/ read these).
    train_time, evaluate_time, figure_time = Stopwatch(), Stopwatch(), Stopwatch()
    board = Board(run_dir)
    if position.epoch == 1 and position.calls_done == 0:
        with figure_time:
            figures.start_figures(cfg, data, run_dir)
    folder.boundary("setup")

    def train_one(position, label, stop):
        with train_time:
            return training.train_epoch(position, label, stop)

    def end_epoch(position, label, epoch_start):
        train_terms = training.train_terms(position.sums)
        with evaluate_time:
            test_terms = evaluate(eval_batch, data.x_test_in, data.x_test, data.y_test, data.eps_test)
            valid_terms = evaluate(eval_batch, *data.valid) if data.valid else {}
            extra = training.epoch_extra(data)
        seconds = time.time() - epoch_start
        row, final = epoch_metrics(position.epoch, train_terms, test_terms, seconds, extra, valid_terms)
        checkpoint.check_finite(run_dir, position.epoch, final)  # before any line, figure or save
        print(training.line(label, train_terms, test_terms, valid_terms, extra, seconds), flush=True)
        with figure_time:
            figures.epoch_figures(cfg, model, data, run_dir, position.epoch)
            board.epoch(cfg, row, training.optimizer)
        folder.boundary("epoch_figures")
        return row, final

    position, wall_seconds = checkpointed_epochs(cfg, folder, model, training.optimizer, position, train_one,
                                                 end_epoch, on_epoch, start_time)
    with figure_time:
        figures.final_figures(cfg, model, data, run_dir)
        board.projector(data, model)
    board.close()
    folder.boundary("final_figures")
    valid = {"n_valid": len(data.valid[0]), **best_by_validation(position.rows, training.chosen_by)} if data.valid else {}
    metrics = {"epochs": cfg["num_epochs"], "n_train": len(data.x_train), "n_test": len(data.x_test),
               **training.run_metrics(position.rows), **valid, **position.final, "test_neg_elbo": position.final["test_loss"],
               "train_seconds": round(train_time.seconds, 2), "evaluate_seconds": round(evaluate_time.seconds, 2),
               "figure_seconds": round(figure_time.seconds, 2), "wall_seconds": round(wall_seconds, 2)}
    folder.finish(model, metrics)
    write_index(cfg, run_dir)  # last: the page shows metrics.json
    return metrics
