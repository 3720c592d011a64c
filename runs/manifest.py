"""manifest.json: the state of a run folder and the SHA-256 of every file its numbers come from, rewritten whole
by every transition. A transition that changes several files is one transaction: its new files are written
beside the old ones first, then the manifest records the whole change as pending, then the files are moved into
place and the manifest settles. A stop at any moment leaves either the old state (nothing recorded yet; the
temporary files are removed when the folder is next opened for writing) or a pending change whose files are all
on disk, which the next writer finishes. A reader never sees half of a transition."""
import json
import os
import time
from pathlib import Path

from runs import files, stops
from runs.errors import Damaged

MANIFEST = "manifest.json"
FORMAT = 1
# The files numbers come from, by name: each has its SHA-256 in the manifest while it is part of the run.
NUMBERS = ("config.json", "checkpoint.npz", "metrics.csv", "metrics.json", "model.weights.h5")


def recorded(name):
    """Whether the manifest keeps the checksum of a file of this name (metrics_<N>_epochs.json included)."""
    return name in NUMBERS or name.endswith(("_epochs.json", "_epochs.weights.h5"))


def read(folder):
    """The folder's manifest as a dict, or None if it has none (a run made before manifests); Damaged if it does
    not read."""
    path = Path(folder) / MANIFEST
    try:
        doc = json.loads(files.read_bytes(path))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as err:
        reason = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise Damaged(f"{path} is damaged ({reason}); the run's files cannot be checked: delete it to use the run "
                      "unchecked, as a run made before manifests") from None
    if not (isinstance(doc, dict) and doc.get("format") == FORMAT and isinstance(doc.get("files"), dict)
            and isinstance(doc.get("state"), str)):
        raise Damaged(f"{path} is not a manifest this runner wrote; delete it to use the run unchecked, as a run made "
                      "before manifests")
    return doc


def write(folder, doc):
    """Replace the manifest whole (written last by every transition) and make the rename durable."""
    files.write_json(Path(folder) / MANIFEST, doc)
    files.fsync_dir(folder)


def settled(folder, wait=2.0):
    """The manifest once no transaction is pending in it: a live writer finishes one in milliseconds, so a reader
    waits up to wait seconds; the pending manifest if it stays pending (its writer died: finish() completes it)."""
    end = time.time() + wait
    doc = read(folder)
    while doc is not None and "pending" in doc and time.time() < end:
        time.sleep(0.05)
        doc = read(folder)
    return doc


def finish(folder):
    """For a writer holding the lock: complete a transaction its writer left pending (every new file of it is on
    disk, fsynced), then remove the temporary files killed writers left. Returns the settled manifest."""
    folder = Path(folder)
    doc = read(folder)
    if doc is not None and "pending" in doc:
        pending = doc["pending"]
        for src, dst in pending["moves"]:
            done = (folder / dst).is_file() and files.file_sha256(folder / dst) == pending["files"].get(dst)
            if not done and (folder / src).is_file():
                os.replace(folder / src, folder / dst)
        for name in pending["removes"]:
            (folder / name).unlink(missing_ok=True)
        files.fsync_dir(folder)
        doc = {k: v for k, v in pending.items() if k not in ("moves", "removes")}
        write(folder, doc)
    for tmp in files.leftover_temporaries(folder):
        tmp.unlink(missing_ok=True)
    return doc


class Transaction:
    """One transition of a run folder: stage new files, renames and removals, then commit them with the state they
    make. A writer holding the folder's lock makes it; leaving the block without commit() removes what it staged.

        with Transaction(folder, doc) as t:
            t.write("checkpoint.npz", lambda tmp: ...)
            t.commit("training")
    """

    def __init__(self, folder, doc):
        self.folder, self.doc = Path(folder), doc
        self.staged, self.renames, self.removes = {}, [], []

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        for tmp, _ in self.staged.values():
            tmp.unlink(missing_ok=True)

    def write(self, name, fill):
        """Stage the new content of name: fill(path) writes it into a new temporary file beside it."""
        path = self.folder / name
        with files.staged(path) as tmp:
            self.staged[name] = (tmp, None)
            fill(tmp)
        try:
            self.staged[name] = (tmp, files.file_sha256(tmp))
        except OSError as err:
            raise OSError(err.errno, err.strerror, str(path)) from None

    def write_bytes(self, name, data):
        self.write(name, lambda tmp: Path(tmp).write_bytes(data))

    def write_text(self, name, text):
        self.write(name, lambda tmp: Path(tmp).write_text(text))

    def rename(self, src, dst):
        """Give the file src the name dst (its checksum goes with it)."""
        self.renames.append((src, dst))

    def remove(self, name):
        self.removes.append(name)

    def commit(self, state, **marks):
        """Record the change as pending, move the files into place, settle the manifest with state (and marks:
        entries of the manifest beyond the files, such as a continuation in progress). Returns the new manifest."""
        before = self.doc if self.doc is not None else self.adopt()
        table = dict(before["files"])
        for src, dst in self.renames:
            table[dst] = table.pop(src, None) or files.file_sha256(self.folder / src)
        for name in self.removes:
            table.pop(name, None)
        table |= {name: digest for name, (_, digest) in self.staged.items()}
        new = {"format": FORMAT, "state": state, "files": table, **marks}
        if before.get("adopted"):
            new["adopted"] = [name for name in before["adopted"] if name in table and name not in self.staged]
            if not new["adopted"]:
                del new["adopted"]
        moves = [list(r) for r in self.renames] + [[tmp.name, name] for name, (tmp, _) in self.staged.items()]
        write(self.folder, before | {"pending": new | {"moves": moves, "removes": self.removes}})
        stops.boundary("manifest pending")
        for src, dst in moves:
            os.replace(self.folder / src, self.folder / dst)
            stops.boundary(f"moved {dst}")
        for name in self.removes:
            (self.folder / name).unlink(missing_ok=True)
        self.staged = {}
        files.fsync_dir(self.folder)
        write(self.folder, new)
        stops.boundary("manifest settled")
        self.doc = new
        return new

    def adopt(self):
        """The manifest of a folder that had none (a run made before manifests): its files as they are now,
        listed as adopted, since their checksums were taken after the fact."""
        table = {p.name: files.file_sha256(p) for p in sorted(self.folder.iterdir())
                 if recorded(p.name) and p.is_file() and not p.is_symlink()}
        return {"format": FORMAT, "state": "made", "files": table, **({"adopted": sorted(table)} if table else {})}
