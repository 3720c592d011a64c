"""One folder per run, created first, never reused and locked while a run writes it; its files, each written whole."""
import contextlib
import csv
import fcntl
import io
import json
import os
import time
from pathlib import Path


def default_run_name(args):
    """A readable, sortable name: model, latent size, denoiser flag and a timestamp."""
    noise = "_noise" if args.add_noise else ""
    return f"{args.model}_z{args.dim_z}{noise}_{time.strftime('%Y%m%d-%H%M%S')}"


def restore_dir_name():
    """The folder inside a run folder that one --restore writes: never an existing one."""
    return f"restore_{time.strftime('%Y%m%d-%H%M%S')}"


def create_run_dir(results_path, run_name=None, default_name="run"):
    """Create and return a new run folder; never reuses one, so parallel runs cannot collide.

    With an explicit run_name an existing folder is an error (FileExistsError); with the default
    name a numeric suffix is added until os.mkdir, which is atomic, succeeds.
    """
    root = Path(results_path)
    root.mkdir(parents=True, exist_ok=True)
    if run_name is not None:
        path = root / run_name
        path.mkdir()
        return path
    for attempt in range(1000):
        path = root / (default_name if attempt == 0 else f"{default_name}_{attempt + 1}")
        try:
            path.mkdir()
            return path
        except FileExistsError:
            continue
    raise FileExistsError(f"no free run folder name under {root} for {default_name}")


@contextlib.contextmanager
def atomic_path(path, tmp_name=None):
    """Yield a temporary path beside path to write; then fsync it and rename it onto path, so that readers and a
    kill never see a half-written file. A failed write (a full disk, no permission) removes the temporary file and
    raises OSError naming path."""
    path = Path(path)
    tmp = path.with_name(tmp_name or f".{path.name}.tmp")
    try:
        yield tmp
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())  # the rename must not land before the data does
        os.replace(tmp, path)
    except OSError as err:
        raise OSError(err.errno, err.strerror, str(path)) from None
    finally:
        tmp.unlink(missing_ok=True)


def write_atomic(path, text):
    """Write text to path whole or not at all (atomic_path)."""
    with atomic_path(path) as tmp:
        Path(tmp).write_text(text)


def write_json(path, obj):
    """Write obj as strict JSON (never NaN or Infinity, which JSON does not have), atomically."""
    write_atomic(path, json.dumps(obj, indent=2, sort_keys=False, allow_nan=False) + "\n")


def write_csv(path, rows):
    """Write rows (dicts with the same keys) as a whole CSV file, atomically."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator="\r\n")
    writer.writeheader()
    writer.writerows(rows)
    write_atomic(path, out.getvalue())


LOCK = ".lock"  # inside each run folder: held by the process writing into it, for its life


class RunLocked(Exception):
    """Another live process holds the run folder's lock; the message names its PID."""


def lock_run_dir(run_dir):
    """Take run_dir's lock for this process's life (the kernel drops it when the process ends); the open lock file.

    RunLocked names the process holding it; OSError if the lock file cannot be made (a read-only folder).
    """
    f = open(Path(run_dir) / LOCK, "a+")
    try:
        fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        f.seek(0)
        holder = f.read().strip() or "unknown"
        f.close()
        raise RunLocked(f"{run_dir} is in use by process {holder} (a run still training or resuming there); "
                        "wait for it to end or stop it first") from None
    f.truncate(0)
    f.write(f"{os.getpid()}\n")
    f.flush()
    return f
