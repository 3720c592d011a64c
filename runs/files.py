"""The file operations of a run folder: made with an atomic mkdir and never reused, locked while a process writes
it, each file written whole through a temporary file that no link can redirect, and read back by its SHA-256."""
import contextlib
import csv
import errno
import fcntl
import hashlib
import io
import json
import os
import stat
import time
from pathlib import Path

from runs.errors import Damaged, RunLocked

TMP_PREFIX = ".tmp-"  # every temporary file the runner makes: .tmp-PID-NAME, beside the file it becomes


def default_run_name(args):
    """A readable, sortable name: model, latent size, denoiser flag and a timestamp."""
    noise = "_noise" if args.add_noise else ""
    return f"{args.model}_z{args.dim_z}{noise}_{time.strftime('%Y%m%d-%H%M%S')}"


def restore_dir_name():
    """The folder inside a run folder that one --restore writes: never an existing one."""
    return f"restore_{time.strftime('%Y%m%d-%H%M%S')}"


def link_problem(path):
    """Why path cannot hold run folders because of a symbolic link (dangling, or a loop), or None."""
    path = Path(path)
    for part in [*reversed(path.parents), path]:
        if not part.is_symlink():
            continue
        try:
            os.stat(part)
        except OSError as err:
            if err.errno == errno.ELOOP:
                return f"{part} is a loop of symbolic links"
            if err.errno == errno.ENOENT:
                return f"{part} is a symbolic link to {os.readlink(part)}, which does not exist"
    return None


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


def _new_file(path):
    """Create path as a new, empty file of this process: O_EXCL refuses any existing name, a link above all."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
    os.close(fd)


def fsync_dir(folder):
    """Make a rename in folder durable (the data was fsynced before it)."""
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def staged(path):
    """Yield a new temporary path beside path to write, then fsync it; the caller renames it (a folder's
    transaction does, after recording it). A failure removes it and raises OSError naming path."""
    path = Path(path)
    tmp = path.with_name(f"{TMP_PREFIX}{os.getpid()}-{path.name}")
    try:
        _new_file(tmp)
        yield tmp
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())  # the rename must not land before the data does
    except OSError as err:
        tmp.unlink(missing_ok=True)
        raise OSError(err.errno, err.strerror, str(path)) from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


@contextlib.contextmanager
def atomic_path(path):
    """Yield a temporary path beside path to write; then fsync it and rename it onto path, so that readers and a
    kill never see a half-written file. The temporary file is made new (a link in its place is refused, never
    followed) and the rename replaces a link at path instead of writing through it. A failed write (a full disk,
    no permission) removes the temporary file and raises OSError naming path."""
    path = Path(path)
    with staged(path) as tmp:
        yield tmp
    try:
        os.replace(tmp, path)
    except OSError as err:
        raise OSError(err.errno, err.strerror, str(path)) from None
    finally:
        tmp.unlink(missing_ok=True)


def write_atomic(path, text):
    """Write text to path whole or not at all (atomic_path)."""
    with atomic_path(path) as tmp:
        Path(tmp).write_text(text)


def json_text(obj):
    """obj as the runner's strict JSON (never NaN or Infinity, which JSON does not have)."""
    return json.dumps(obj, indent=2, sort_keys=False, allow_nan=False) + "\n"


def write_json(path, obj):
    """Write obj as strict JSON, atomically."""
    write_atomic(path, json_text(obj))


def csv_text(rows):
    """Rows (dicts with the same keys) as CSV text."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator="\r\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def write_csv(path, rows):
    """Write rows as a whole CSV file, atomically."""
    write_atomic(path, csv_text(rows))


def write_new(path, write):
    """A file that must not exist yet (a tool's output): write(file object) fills a temporary file beside it,
    which is then linked into place, so the file appears whole or not at all and nothing is ever overwritten.
    FileExistsError if path exists (a link included); OSError naming path if it cannot be written."""
    path = Path(path)
    with staged(path) as tmp:
        with open(tmp, "wb") as f:
            write(f)
    try:
        os.link(tmp, path)  # atomic, and it never replaces a file
    except OSError as err:
        raise (FileExistsError if err.errno == errno.EEXIST else OSError)(err.errno, err.strerror, str(path)) from None
    finally:
        tmp.unlink(missing_ok=True)


def sha256_bytes(data):
    return hashlib.sha256(data).hexdigest()


def read_bytes(path):
    """The bytes of path, read through one descriptor (what is hashed is what is used)."""
    with open(path, "rb") as f:
        return f.read()


def file_sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def leftover_temporaries(folder):
    """Temporary files of this runner in folder and its subfolders (left by a process that was killed)."""
    return [p for p in Path(folder).rglob(f"{TMP_PREFIX}*") if p.is_file() and not p.is_symlink()]


LOCK = ".lock"  # inside each run folder: held by the process writing into it, for its life


def lock_run_dir(run_dir):
    """Take run_dir's lock for this process's life (the kernel drops it when the process ends); the open lock file.

    The lock file is opened without following a link and must be a plain file with one name, so that writing the
    PID into it can never reach a file elsewhere. RunLocked names the process holding it; Damaged if the lock file
    is a link; OSError if it cannot be made (a read-only folder).
    """
    path = Path(run_dir) / LOCK
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
    except OSError as err:
        if err.errno == errno.ELOOP:
            raise Damaged(f"{path} is a symbolic link, and the runner writes through none; remove the link") from None
        raise OSError(err.errno, err.strerror, str(path)) from None
    f = os.fdopen(fd, "r+")
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode) or info.st_nlink != 1:
        f.close()
        raise Damaged(f"{path} is not a plain file of this folder (a hard link or a special file), and the runner "
                      "writes through none; remove it")
    try:
        fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        f.seek(0)
        holder = f.read().strip() or "unknown"
        f.close()
        raise RunLocked(f"{run_dir} is in use by process {holder} (a run training, resuming or being measured "
                        "there); wait for it to end or stop it first") from None
    f.truncate(0)
    f.write(f"{os.getpid()}\n")
    f.flush()
    return f
