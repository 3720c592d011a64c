"""The run folder: the one place that knows its states, the files of each, how each file is checked, and the
transitions between states. run_main.py, the tools, the API and the training loop all go through it.

States (manifest.json records the state and the SHA-256 of every file numbers come from):

    being_made      config.json                                           a new run before its first checkpoint
    training        config.json, checkpoint.npz, metrics.csv               checkpointed; --resume goes on
    finished        + model.weights.h5, metrics.json                       --restore, tools, API; --resume extends it
    being_extended  a finished run whose extension has not yet checkpointed its first new epoch: its files are still
                    the finished run's; a stop puts back what it drew, and the run is finished as it was
    restored        config.json, metrics.json, metrics.csv                 a --restore folder inside a run folder
    damaged         a file of the state missing, or failing its check: not a state any transition makes; every
                    reader names the file in one line and says what to do, and leaves the folder as it is

Transitions, each one manifest.Transaction: create and start (-> being_made), save_checkpoint (-> training; an
extension commits here, with its first new epoch), finish (-> finished), extend (finished -> being_extended, no file
changed) and roll_back (-> finished), repair (finished: weights and metrics.csv remade from the checkpoint),
stop_early (a sweep's stopped trial -> finished), update_metrics (tools.measure), finish_restored (-> restored).

Every writer holds the folder's lock (runs.files.lock_run_dir) for its life: a second one is refused in one line
naming the first. Readers take no lock: each file is checked against the manifest (pinned: one manifest for all the
files a reader combines). Runs made before manifests load with every check but the checksums (docs/reliability.md).
"""
import argparse
import contextlib
import csv
import io
import json
import tempfile
from dataclasses import dataclass
from pathlib import Path

from runs import checkpoint, files, manifest, stops
from runs.checkpoint import CHECKPOINT, WEIGHTS
from runs.errors import Damaged, NotARun, RunError, RunLocked, WrongState
from training.flags import FIGURE_PREFIXES, FLAGS, M1_MODEL, build_parser, parse_args, with_flag_defaults

CONFIG, METRICS, HISTORY = "config.json", "metrics.json", "metrics.csv"
STATE_FILES = {
    "being_made": (CONFIG,),
    "training": (CONFIG, CHECKPOINT),
    "finished": (CONFIG, CHECKPOINT, HISTORY, METRICS, WEIGHTS),
    "restored": (CONFIG, METRICS, HISTORY),
}
FINISHED = ("finished", "being_extended")  # the files of a finished run, whole, in either
NAMING = ("resume", "restore", "run_dir")  # config entries that name folders, not settings of the run
TENSORBOARD = "tensorboard"  # the one subfolder a run writes as it trains


def kept_name(name, epochs):
    """What a finished run's metrics.json or weights are called once an extension has gone past them."""
    return f"metrics_{epochs}_epochs.json" if name == METRICS else f"model_{epochs}_epochs.weights.h5"


def drawn(name):
    """Whether a file of this name is one a run draws or logs as it goes (figures, page, TensorBoard): what an
    extension that never committed may have left, and its roll-back removes. Nothing else is ever removed."""
    return name.endswith((".png", ".gif", ".html", ".tsv", ".pbtxt")) or name.startswith("events.out.tfevents.")


def json_kind(value):
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean", type(None): "null"}.get(
        type(value), "a number")


def config_problem(cfg):
    """Why cfg (config.json's contents) is not a run's flags, or None: a JSON object whose flags have the types and
    ranges run_main.py accepts, checked by run_main.py's own parser (flags it predates take their defaults)."""
    if not isinstance(cfg, dict):
        return f"it holds {json_kind(cfg)}, not an object of flags"
    if "model" not in cfg:
        return "it names no model"
    defaults = with_flag_defaults({})
    given = {k: v for k, v in cfg.items() if k in FLAGS and k not in NAMING and v is not None}
    for name, value in cfg.items():
        if name in FLAGS and name not in NAMING and value is None and defaults[name] is not None:
            return f"{name} is null"
        if name in given and isinstance(value, (dict, list)):
            return f"{name} is {json_kind(value)}"
    err = io.StringIO()
    try:
        with contextlib.redirect_stderr(err):
            parsed = vars(parse_args([f"--{k}={v}" for k, v in given.items()] + ["--resume=."]))
    except SystemExit:
        return err.getvalue().strip().split("error: ", 1)[-1].removesuffix("(see --help)").strip()
    for name, value in given.items():
        want = parsed[name]
        same_type = type(value) is type(want) or (type(want) is float and type(value) is int)
        if not same_type or value != want:
            return f"{name} is {json.dumps(value)}, where run_main.py takes {type(want).__name__} values"
    return None


@dataclass
class Plan:
    """What --resume does with a folder: 'start' (no checkpoint: train from epoch 1), 'continue' (from the
    checkpoint), 'extend' (a finished run, to more epochs), or 'repair' (a finished run's weights or metrics.csv
    remade from its checkpoint); config is config.json as it will be (an extension's or a new rate's)."""
    kind: str
    config: dict
    epochs_done: int = 0


class RunFolder:
    """A run folder: read through checks, written through transitions. The epoch loop uses path (figures and
    TensorBoard go under it), load_checkpoint, save_checkpoint, boundary and finish."""

    def __init__(self, path):
        self.path = Path(path)
        self._lock = None
        self._doc = None  # the manifest while this process writes the folder
        self._amended = None  # the config.json an extension or a new rate commits with the first checkpoint
        self._extension = None  # the finished run an uncommitted extension goes past: its epochs and rows
        self._pin = None  # a reader's manifest, read once, that every file it reads must match (pinned)

    def __repr__(self):
        return f"RunFolder({str(self.path)!r})"

    @property
    def extending(self):
        """Whether this process extends the finished run and has not yet checkpointed its first new epoch."""
        return self._extension is not None

    # ---------------------------------------------------------------- reading
    def manifest(self):
        """The manifest as this process should trust it: its own while it writes; for a reader the settled one
        (a transition its writer left half done is finished first, under the lock), or None for a run made before
        manifests."""
        if self._lock is not None:
            return self._doc
        if self._pin is not None:
            return self._pin
        doc = manifest.read(self.path)
        if doc is not None and "pending" in doc:
            try:  # a free lock means the writer is gone: finish its transition
                with self.locked():
                    doc = self._doc
            except RunLocked:  # a live writer finishes its own in milliseconds
                doc = manifest.settled(self.path)
                if "pending" in doc:
                    raise
        return doc

    def state(self):
        """The state the folder is in (see the module's table); NotARun if it holds no run."""
        if not self.path.is_dir():
            raise NotARun(f"{self.path} is not a folder")
        doc = self.manifest()
        if not doc:  # a run made before manifests (None, or {} pinned)
            present = {name for name in (CONFIG, CHECKPOINT, METRICS) if (self.path / name).is_file()}
            if CONFIG not in present:
                raise NotARun(f"{self.path} is not a run folder (it has no {CONFIG})")
            return "finished" if METRICS in present else "training" if CHECKPOINT in present else "being_made"
        return "being_extended" if "extension" in doc else doc["state"]

    def pinned(self):
        """This folder for a reader that reads several of its files: each must match the one manifest read now,
        so that together they are one state of the run (a writer's commit meanwhile makes the read fail, not mix)."""
        folder = RunFolder(self.path)
        folder._pin = self.manifest() or {}
        return folder

    @property
    def checked(self):
        """Whether the folder's files are checked against checksums (False for a run made before manifests)."""
        return bool(self.manifest())

    def read(self, name, required=True):
        """The bytes of one of the folder's files, checked against the manifest read with them; None if the file
        is absent and not required. Damaged names the file and says what to do."""
        path = self.path / name
        for attempt in range(3):
            doc = self.manifest()
            try:
                data = files.read_bytes(path)
            except FileNotFoundError:
                data = None
            except IsADirectoryError:
                raise Damaged(f"{path} is a folder, not the run's file; {self.fix(name)}") from None
            except OSError as err:
                err.verb = "read"
                raise
            want = (doc or {}).get("files", {}).get(name)
            if data is None:
                if required:
                    raise Damaged(f"{path} is missing; {self.fix(name)}")
                return None
            if not doc or (want is not None and files.sha256_bytes(data) == want):
                return data
            if self._pin is not None and manifest.read(self.path) != self._pin:
                raise RunLocked(f"{self.path} changed while it was read (a run being extended or measured there); "
                                "try again once that is done")
            if self._lock is None and doc != self.manifest():
                continue  # a writer committed between the two reads: read both again
            what = ("is not part of the run (manifest.json does not list it)" if want is None else
                    "does not match its checksum in manifest.json (it changed after the run wrote it)")
            raise Damaged(f"{path} {what}; {self.fix(name)}")
        raise Damaged(f"{path} keeps changing while it is read; wait for the process writing it to end")

    def _json(self, name):
        data = self.read(name)
        try:
            return json.loads(data)
        except ValueError as err:
            raise Damaged(f"{self.path / name} is damaged ({str(err).splitlines()[0]}); {self.fix(name)}") from None

    def config(self):
        """config.json, checked: its checksum, and flags of the types and ranges run_main.py accepts."""
        cfg = self._json(CONFIG)
        problem = config_problem(cfg)
        if problem:
            raise Damaged(f"{self.path / CONFIG} does not describe a run ({problem}); {self.fix(CONFIG)}")
        return cfg

    def metrics(self):
        """metrics.json, checked: its checksum, and a JSON object."""
        metrics = self._json(METRICS)
        if not isinstance(metrics, dict):
            raise Damaged(f"{self.path / METRICS} holds {json_kind(metrics)}, not an object of metrics; "
                          f"{self.fix(METRICS)}")
        return metrics

    def history(self, data=None):
        """metrics.csv's rows, each value a float, checked: its checksum, an epoch column, numbers throughout."""
        data = self.read(HISTORY) if data is None else data
        try:
            rows = [{k: float(v) for k, v in row.items()} for row in csv.DictReader(io.StringIO(data.decode()))]
            if not rows or "epoch" not in rows[0]:
                raise ValueError("no epoch rows")
        except (ValueError, TypeError, UnicodeDecodeError) as err:
            raise Damaged(f"{self.path / HISTORY} is damaged ({err}); {self.fix(HISTORY)}") from None
        return rows

    def checkpoint(self, required=False):
        """The checkpoint read whole (runs.checkpoint.Checkpoint), or None if there is none and it is not required."""
        data = self.read(CHECKPOINT, required=required)
        if data is None:
            return None
        try:
            return checkpoint.read(data)
        except ValueError as err:
            raise Damaged(f"{self.path / CHECKPOINT} is damaged ({err}); {self.fix(CHECKPOINT)}") from None

    def expect(self, *states):
        """The state, if it is one of states; else WrongState saying what the folder is and what to do."""
        state = self.state()
        if state in states or (state == "being_extended" and "finished" in states):
            return state
        what = {"being_made": "a run that has not finished its first epoch (--resume it first)",
                "training": "an unfinished run (--resume it first)",
                "restored": "a --restore folder, not a run: give the run folder above it",
                "finished": "a finished run"}.get(state, state)
        raise WrongState(f"{self.path} is {what}")

    def load_weights(self, model):
        """Load model.weights.h5 into model (built from config.json), checked first: its checksum, read whole, its
        arrays' shapes against model's, finite values; then that every array of the file reached the model."""
        data = self.read(WEIGHTS)
        try:
            arrays = checkpoint.weights_arrays(data)
        except ValueError as err:
            raise Damaged(f"{self.path / WEIGHTS} is damaged ({err}); {self.fix(WEIGHTS)}") from None
        problem = checkpoint.weights_mismatch(arrays, model)
        if problem:
            raise Damaged(f"{self.path / WEIGHTS} does not fit config.json: {problem}; {self.fix(WEIGHTS)}")
        with tempfile.TemporaryDirectory(prefix="vae-weights-") as private:  # load exactly the bytes checked
            copy = Path(private) / WEIGHTS
            copy.write_bytes(data)
            model.load_weights(copy)
        if checkpoint.digests(model.get_weights()) != checkpoint.digests(arrays.values()):
            raise Damaged(f"{self.path / WEIGHTS} did not load whole into config.json's model; {self.fix(WEIGHTS)}")

    def fix(self, name):
        """What to do about a damaged or missing file name, given what else the folder holds."""
        run = self.path
        if name == CONFIG:
            return "mend it from a copy (manifest.json holds its checksum), or start a new run"
        if name in (METRICS, HISTORY):
            return ("restore it from a copy, or measure the run again from its weights with "
                    f"'python run_main.py --restore {run}'" if name == METRICS else
                    f"'python run_main.py --resume {run}' writes it again from {CHECKPOINT}")
        good_checkpoint = name != CHECKPOINT and self._checkpoint_ok()
        if name == WEIGHTS:
            return (f"'python run_main.py --resume {run}' rebuilds it from {CHECKPOINT}" if good_checkpoint else
                    f"there is no good {CHECKPOINT} to rebuild it from either, so no model stands behind the numbers "
                    "in metrics.json: restore both from a copy, or train the run again")
        if name == CHECKPOINT and (run / METRICS).exists():
            return ("the finished run still restores and loads from its weights, but cannot go on: restore the file "
                    "from a copy, or train a new run")
        if name == CHECKPOINT:
            return "delete it to train the run again from epoch 1, or start a new run"
        return "restore it from a copy"

    def _checkpoint_ok(self):
        try:
            return self.checkpoint() is not None
        except (RunError, OSError):
            return False

    # ---------------------------------------------------------------- writing
    @contextlib.contextmanager
    def locked(self):
        """Hold the folder's lock within the block (take and release)."""
        self.take()
        try:
            yield self
        finally:
            self.release()

    def take(self):
        """Take the folder's lock for this process (RunLocked names the holder), finish a transition a stopped
        writer left pending, remove its temporary files, and put back an extension that never committed."""
        if self._lock is None:
            self._lock = files.lock_run_dir(self.path)
            try:
                self._doc = manifest.finish(self.path)
                if self._doc is not None and "extension" in self._doc:
                    self.roll_back()
            except BaseException:
                self.release()
                raise
        return self

    def release(self):
        if self._lock is not None:
            self._lock.close()
            self._lock = None

    def _transaction(self):
        if self._lock is None and self._doc is None:  # the loop's folder, locked by whoever made it
            self._doc = manifest.finish(self.path)
        return manifest.Transaction(self.path, self._doc)

    @classmethod
    def create(cls, results_path, run_name, default_name, cfg_of):
        """Make a new run folder under results_path (run_name, or default_name with a suffix if taken), lock it and
        write config.json (cfg_of(path) gives it): state being_made."""
        folder = cls(files.create_run_dir(results_path, run_name, default_name)).take()
        try:
            folder.start(cfg_of(folder.path))
        except BaseException:
            folder.release()
            raise
        return folder

    def start(self, cfg):
        """config.json of a new run: state being_made."""
        with self._transaction() as t:
            t.write_text(CONFIG, files.json_text(cfg))
            self._doc = t.commit("being_made")

    def load_checkpoint(self, model, optimizer):
        """Load the checkpoint into model and the (built) optimizer, checked first against them; its Position, or
        None without one."""
        saved = self.checkpoint()
        if saved is None:
            return None
        problem = checkpoint.check_against(saved, model, optimizer)
        if problem:
            raise Damaged(f"{self.path / CHECKPOINT} does not fit config.json: {problem}; {self.fix(CHECKPOINT)}")
        checkpoint.load_into(saved, model, optimizer)
        return saved.position

    def save_checkpoint(self, model, optimizer, position):
        """Write the checkpoint of position and metrics.csv from its finished epochs' rows, as one transaction
        (state training). An extension commits here, with its first new epoch: config.json takes the new count,
        and the finished run's metrics.json and weights keep their numbers under names of their own. Before that
        epoch has ended nothing is written: a stop puts the finished run back as it was."""
        if self._extension is not None and len(position.rows) <= self._extension["rows"]:
            return
        with self._transaction() as t:
            t.write(CHECKPOINT, lambda tmp: checkpoint.write(tmp, model, optimizer, position))
            if position.rows:
                t.write_text(HISTORY, files.csv_text(position.rows))
            if self._amended is not None:
                t.write_text(CONFIG, files.json_text(self._amended))
            if self._extension is not None:
                for name in (METRICS, WEIGHTS):
                    if name in (t.doc or {}).get("files", {}) and self.problem(name) is None:
                        t.rename(name, kept_name(name, self._extension["epochs"]))
                    elif name in (t.doc or {}).get("files", {}):
                        t.remove(name)  # a damaged file keeps no numbers worth a name
                t.remove("index.html")  # it shows the finished run's numbers, which now have other names
            self._doc = t.commit("training")
        self._amended = self._extension = None

    def boundary(self, phase):
        """The loop passes a phase boundary: after setting up ('setup'), after an epoch's figures ('epoch_figures'),
        after the last epoch's figures ('final_figures'). Outside the epochs, where the loop does not poll, a stop
        request raises Stopped here: the checkpoint on disk is where the run goes on from."""
        stops.boundary(phase)
        if phase != "epoch_figures" and stops.requested():
            raise stops.Stopped(stops.requested())

    def finish(self, model, metrics):
        """The finished run's files, the trained weights and metrics.json, as one transaction: state finished."""
        with self._transaction() as t:
            t.write(WEIGHTS, lambda tmp: checkpoint.write_weights(model, tmp))
            t.write_text(METRICS, files.json_text(metrics))
            self._doc = t.commit("finished")

    def amend(self, cfg, num_epochs, learn_rate):
        """--resume with a larger --num_epochs or another --learn_rate: the config.json the first checkpoint
        commits (the earlier counts in extended_from, the rate changes in learn_rate_changes (epoch, from, to))."""
        new = dict(cfg)
        if num_epochs != cfg["num_epochs"]:
            new |= {"num_epochs": num_epochs, "extended_from": cfg.get("extended_from", []) + [cfg["num_epochs"]]}
        if learn_rate != cfg["learn_rate"]:
            saved = self.checkpoint()
            change = {"epoch": saved.position.epoch if saved else 1, "from": cfg["learn_rate"], "to": learn_rate}
            new |= {"learn_rate": learn_rate, "learn_rate_changes": cfg.get("learn_rate_changes", []) + [change]}
        self._amended = new if new != cfg else None
        return new

    def extend(self, epochs_done, rows):
        """A finished run goes on (state being_extended): nothing of it changes until the first new epoch is
        checkpointed; the manifest lists the files it had, so that a stop (or the next writer, after a kill) can
        remove whatever the extension drew before that."""
        drawn_where = [*self.path.iterdir(), *self.path.glob(f"{TENSORBOARD}/*")]
        listing = sorted(str(p.relative_to(self.path)) for p in drawn_where if not p.is_dir())
        self._extension = {"epochs": epochs_done, "rows": rows}
        with self._transaction() as t:
            self._doc = t.commit(self._doc["state"] if self._doc else "finished", extension={"files": listing})

    def roll_back(self):
        """Put back a finished run whose extension stopped before its first new epoch was checkpointed: remove the
        files it made (figures of the new epoch, TensorBoard events), and the run is finished as it was."""
        doc = self._doc
        if doc is None or "extension" not in doc:
            self._amended = self._extension = None
            return
        kept = set(doc["extension"]["files"])
        for path in [*self.path.iterdir(), *self.path.glob(f"{TENSORBOARD}/*")]:  # where a run draws and logs
            name = str(path.relative_to(self.path))
            if name not in kept and not path.is_symlink() and path.is_file() and drawn(path.name):
                path.unlink()
        with self._transaction() as t:
            self._doc = t.commit(doc["state"])
        self._amended = self._extension = None

    def repair(self, model, saved):
        """A finished run whose weights or metrics.csv are damaged or missing: write them again from its checked
        checkpoint (saved), whose model arrays are those the run finished with. Nothing else changes."""
        problem = checkpoint.check_against(saved, model)
        if problem:
            raise Damaged(f"{self.path / CHECKPOINT} does not fit config.json: {problem}; {self.fix(CHECKPOINT)}")
        checkpoint.load_into(saved, model)
        with self._transaction() as t:
            if self.problem(WEIGHTS, model) is not None:
                t.write(WEIGHTS, lambda tmp: checkpoint.write_weights(model, tmp))
            if self.problem(HISTORY) is not None:
                t.write_text(HISTORY, files.csv_text(saved.position.rows))
            self._doc = t.commit("finished")

    def stop_early(self, model, saved, metrics):
        """A sweep's trial its scheduler stopped (state training, saved its checkpoint at the end of an epoch) becomes
        a finished run at the epochs it ran: weights from the checkpoint, metrics (saying stopped_early) as
        metrics.json. --resume trains it on to its num_epochs."""
        problem = checkpoint.check_against(saved, model)
        if problem:
            raise Damaged(f"{self.path / CHECKPOINT} does not fit config.json: {problem}; {self.fix(CHECKPOINT)}")
        checkpoint.load_into(saved, model)
        with self._transaction() as t:
            t.write(WEIGHTS, lambda tmp: checkpoint.write_weights(model, tmp))
            t.write_text(METRICS, files.json_text(metrics))
            self._doc = t.commit("finished")

    def problem(self, name, model=None):
        """The one-line problem of a file (None if it passes its checks); for the weights, against model if given."""
        try:
            if name == WEIGHTS:
                arrays = checkpoint.weights_arrays(self.read(WEIGHTS))
                mismatch = checkpoint.weights_mismatch(arrays, model) if model is not None else \
                    checkpoint.non_finite(list(arrays.values()), "weights")
                if mismatch:
                    raise Damaged(f"{self.path / WEIGHTS} does not fit config.json: {mismatch}; {self.fix(WEIGHTS)}")
            elif name == HISTORY:
                self.history()
            elif name == METRICS:
                self.metrics()
            elif name == CONFIG:
                self.config()
            else:
                self.checkpoint(required=True)
        except ValueError as err:
            return str(err) if isinstance(err, RunError) else f"{self.path / name} is damaged ({err}); {self.fix(name)}"
        return None

    def update_metrics(self, update):
        """metrics.json replaced by update(metrics) (tools.measure adds what it measured), as one transaction."""
        new = update(self.metrics())
        with self._transaction() as t:
            t.write_text(METRICS, files.json_text(new))
            self._doc = t.commit(self._doc["state"] if self._doc else "finished")
        return new

    def finish_restored(self, metrics, history):
        """A --restore folder's numbers, measured anew, and the run's training history: state restored."""
        with self._transaction() as t:
            t.write_text(METRICS, files.json_text(metrics))
            t.write_bytes(HISTORY, history)
            self._doc = t.commit("restored")


# -------------------------------------------------------------------- the flags that name run folders
def parse_run_args(argv=None):
    """run_main.py's flags, checked (training.flags.parse_args), with a --resume or --restore folder's saved
    config merged in and a --m1_run folder checked; exits with status 2 and one line on a bad one."""
    args = parse_args(argv, saved=saved_run_args)
    parser = build_parser()
    if args.m1_run is not None:
        check_m1_run(args, parser)
    if not (args.resume or args.restore):
        problem = files.link_problem(args.results_path)
        if problem:
            parser.error(f"argument --results_path: {problem}; make the folder it points to, or give another path")
    return args


def saved_run_args(args, given, parser):
    """For --resume or --restore: the run's saved config, plus the flags given now that the mode lets change."""
    mode = "resume" if args.resume else "restore"
    folder = RunFolder(getattr(args, mode))
    # A resumed run must replay the same run; a restored one may only draw its figures differently.
    allowed = {mode} | ({name for name in FLAGS if name.startswith(FIGURE_PREFIXES)} | {"quality", "ll_k"}
                        if mode == "restore" else {"num_epochs", "learn_rate"})
    if args.resume and args.restore:
        parser.error("arguments --resume and --restore: give one of them, not both")
    if given - allowed:
        parser.error(f"argument --{mode}: the run keeps its own config; drop --{sorted(given - allowed)[0]}"
                     + (" (only figure flags may change)" if mode == "restore" else ""))
    try:
        if mode == "restore":
            folder.expect("finished")
            saved = folder.config()
            for name in (WEIGHTS, HISTORY):
                if folder.problem(name):
                    raise Damaged(folder.problem(name))
        else:
            plan = plan_resume(folder, args.num_epochs if "num_epochs" in given else None,
                               args.learn_rate if "learn_rate" in given else None)
            saved = plan.config
    except (RunError, OSError) as err:
        parser.error(f"argument --{mode}: {err}")
    merged = with_flag_defaults({k: v for k, v in saved.items() if k in FLAGS})
    return argparse.Namespace(**merged | {name: getattr(args, name) for name in given} | {mode: str(folder.path)})


def plan_resume(folder, num_epochs=None, learn_rate=None):
    """What --resume [--num_epochs N] [--learn_rate R] does with folder (a Plan), every file it needs checked; a
    RunError saying why it cannot."""
    state = folder.state()
    if state == "restored":
        folder.expect("training")
    cfg = folder.config()
    saved = with_flag_defaults(cfg)
    run = folder.path
    if learn_rate is not None and learn_rate != saved["learn_rate"] and saved["lr_decay"] != 1.0:
        raise WrongState(f"cannot change the learning rate of a run with --lr_decay {saved['lr_decay']:g}: its "
                         "schedule is fixed by its first learn_rate")
    target = saved["num_epochs"] if num_epochs is None else num_epochs
    new = folder.amend(cfg, target, saved["learn_rate"] if learn_rate is None else learn_rate) if (
        target != saved["num_epochs"] or learn_rate is not None) else cfg
    if state not in FINISHED:
        if num_epochs is not None and num_epochs < saved["num_epochs"]:
            raise WrongState(f"--resume only extends a run; {run} runs to {saved['num_epochs']} epochs, "
                             f"got {num_epochs}")
        if target != saved["num_epochs"] and saved["lr_decay"] != 1.0:
            raise WrongState(_decay_refusal(saved))
        saved_checkpoint = folder.checkpoint()
        return Plan("continue" if saved_checkpoint else "start", new)
    stopped_early = (run / METRICS).is_file() and _stopped_early(folder)
    weights_problem = folder.problem(WEIGHTS)
    if num_epochs is None or num_epochs == saved["num_epochs"]:
        repairable = weights_problem or (run / CHECKPOINT).exists() and folder.problem(HISTORY)
        if not repairable and not stopped_early:
            raise WrongState(f"the run in {run} has finished already (it has metrics.json); extend it with "
                             f"--num_epochs above {saved['num_epochs']}")
    elif num_epochs < saved["num_epochs"]:
        raise WrongState(f"--resume only extends a run; {run} runs to {saved['num_epochs']} epochs, got {num_epochs}")
    if target != saved["num_epochs"] and saved["lr_decay"] != 1.0:
        raise WrongState(_decay_refusal(saved))
    try:
        saved_checkpoint = folder.checkpoint(required=True)
    except Damaged:
        if weights_problem:  # nothing to rebuild the weights from: their line says so
            raise Damaged(weights_problem) from None
        raise
    done = saved_checkpoint.position.epoch - 1
    if saved_checkpoint.position.calls_done or not saved_checkpoint.position.rows or done > target:
        raise Damaged(f"{run / CHECKPOINT} is not the checkpoint of a finished run (it stands at epoch "
                      f"{saved_checkpoint.position.epoch}); {folder.fix(CHECKPOINT)}")
    if target > done:
        folder.metrics()  # the numbers an extension keeps under their own name must be whole
        return Plan("extend", new, done)
    return Plan("repair", new, done)


def _stopped_early(folder):
    try:
        return bool(folder.metrics().get("stopped_early"))
    except RunError:
        return False


def _decay_refusal(saved):
    return (f"cannot extend a run with --lr_decay {saved['lr_decay']:g}: its learning rate schedule spans its "
            f"{saved['num_epochs']} epochs, so more epochs would change the ones it trained")


def check_m1_run(args, parser):
    """--m1_run names a finished VAE run whose sizes match this run's M1 (its weights are checked in full when
    they load; a run with a manifest has their checksum checked here too)."""
    folder = RunFolder(args.m1_run)
    try:
        m1_cfg = with_flag_defaults(folder.config())
        if folder.checked:
            folder.expect("finished")
            folder.read(WEIGHTS)
        elif not (folder.path / WEIGHTS).exists():
            parser.error(f"argument --m1_run: {args.m1_run!r} holds no {WEIGHTS} (an unfinished run?)")
    except (RunError, OSError) as err:
        parser.error(f"argument --m1_run: {err}")
    m1 = (m1_cfg["model"], m1_cfg["dim_z"], m1_cfg["n_hidden"], m1_cfg["activation"])
    if m1 != (M1_MODEL, args.m1_dim_z, args.n_hidden, args.activation):
        parser.error(f"argument --m1_run: need a {M1_MODEL} run with dim_z {args.m1_dim_z}, n_hidden {args.n_hidden} and "
                     f"activation {args.activation} (--m1_dim_z, --n_hidden, --activation), got model {m1[0]}, "
                     f"dim_z {m1[1]}, n_hidden {m1[2]}, activation {m1[3]}")
