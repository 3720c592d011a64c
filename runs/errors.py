"""What can be wrong with a run folder, each a one-line message naming the folder or file and what to do.

Every command maps them to the same exit status (command_errors): a folder or file that is not what the command
needs is bad input (2), one in use by another process is 1, as an I/O failure is (the line names the file)."""


class RunError(ValueError):
    """A folder that is not what the command needs: not a run, unfinished, damaged or in the wrong state."""


class NotARun(RunError):
    """The folder holds no run (no config.json)."""


class WrongState(RunError):
    """The run is in a state the command does not take (an unfinished run given to --restore, say)."""


class Damaged(RunError):
    """A file of the run fails its check (its checksum, its config, finite values, a link): the message names it
    and says what to do. The folder is left as it is."""


class RunLocked(RunError):
    """Another live process holds the run folder's lock; the message names its PID. Not bad input: exit 1."""


def status_and_line(err):
    """(exit status, one line) for an error a command expects, or None for one it does not."""
    if isinstance(err, RunLocked):
        return 1, f"error: {err}"
    if isinstance(err, RunError):
        return 2, f"error: {err}"
    if isinstance(err, OSError):  # a full disk, no permission: the writer named its file and removed its temporary one
        what = err.filename or "a file"
        return 1, f"error: cannot {getattr(err, 'verb', 'write')} {what}: {err.strerror or err}"
    return None
