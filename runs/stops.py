"""Stops: Ctrl-C and SIGTERM become requests that a run honours where its folder is in a named state, and a
test-only hook stops the process at the N-th such boundary.

While a run's requests are taken (ctrl_c_requests, which nests), a first Ctrl-C or SIGTERM is only recorded; the
epoch loop polls it between step calls and the run folder at its phase boundaries, and either saves what it
must and raises Stopped. A second Ctrl-C interrupts at once (KeyboardInterrupt).

The hook, for tests only: with VAE_STOP_AT="N:SIGNAL" in the environment (SIGNAL one of INT, TERM, KILL), the
process sends itself that signal at the N-th boundary it passes (a folder's phase or a step of one of its
transitions); with VAE_STOP_AT="NAME:SIGNAL", at the first boundary named NAME (say final_figures).
VAE_BOUNDARIES=FILE appends the number and name of each boundary passed to FILE.
"""
import _thread
import contextlib
import os
import signal
import sys
import threading

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)  # Ctrl-C, and kill / a scheduler ending a job
HOOK = "VAE_STOP_AT"
TRACE = "VAE_BOUNDARIES"

_received = []  # the stop signals received while requests are taken, first first
_depth = [0]
_passed = [0]  # boundaries passed by this process, for the hook
_hit = set()  # boundary names the hook has stopped at


class Stopped(KeyboardInterrupt):
    """A run stopped at a signal's request where its folder is in a named state; signum says which signal."""

    def __init__(self, signum=signal.SIGINT):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def _record(signum, frame):
    _received.append(signum)
    signal.signal(signal.SIGINT, signal.default_int_handler)  # a second Ctrl-C stops at once


def requested():
    """The first stop signal received while requests were taken, or 0."""
    return _received[0] if _received else 0


@contextlib.contextmanager
def ctrl_c_requests():
    """Within the block, Ctrl-C or SIGTERM only records a request: it yields requested. Blocks nest (the run
    takes requests for its whole life, the epoch loop again for its epochs); the outermost installs the handlers
    and, on leaving, forgets the requests. Outside the main thread, where handlers cannot be set, nothing is
    caught."""
    if threading.current_thread() is not threading.main_thread():
        yield lambda: 0
        return
    if _depth[0]:
        _depth[0] += 1
        try:
            yield requested
        finally:
            _depth[0] -= 1
        return
    previous = {s: signal.signal(s, _record) for s in STOP_SIGNALS}
    _depth[0] = 1
    try:
        yield requested
    finally:
        _depth[0] = 0
        _received.clear()
        for s, h in previous.items():
            signal.signal(s, h)


@contextlib.contextmanager
def sigterm_interrupts():
    """Within the block, SIGTERM interrupts at once as Ctrl-C does (raising Stopped), so that a command without a
    checkpoint to save (start-up, tools.measure, tools.classifier) cleans up and exits 143 in one line. A run's
    ctrl_c_requests, inside it, turns both into requests."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _raise_stopped)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def keep_interrupts():
    """From now on, a KeyboardInterrupt (Ctrl-C, or Stopped after SIGTERM) raised inside a finalizer (a __del__, a
    weakref callback), where Python prints 'Exception ignored' and goes on, is sent to the main thread again a
    moment later, once the finalizer is left. Without it a Ctrl-C early in a run was lost and the run went on."""
    if getattr(sys.unraisablehook, "keeps_interrupts", False):
        return
    previous = sys.unraisablehook

    def hook(unraisable):
        if isinstance(unraisable.exc_value, KeyboardInterrupt):
            signum = getattr(unraisable.exc_value, "signum", signal.SIGINT)
            again = threading.Timer(0.05, _thread.interrupt_main, (signum,))
            again.daemon = True
            again.start()
        else:
            previous(unraisable)
    hook.keeps_interrupts = True
    sys.unraisablehook = hook


def _raise_stopped(signum, frame):
    raise Stopped(signum)


def exit_status(err):
    """The shell's status for a command a signal stopped: 130 after Ctrl-C, 143 after SIGTERM."""
    return 128 + getattr(err, "signum", signal.SIGINT)


def boundary(name):
    """Pass a boundary named name: the test hook may stop the process here."""
    _passed[0] += 1
    if os.environ.get(TRACE):
        with open(os.environ[TRACE], "a") as f:
            f.write(f"{_passed[0]} {name}\n")
    spec = os.environ.get(HOOK)
    if not spec:
        return
    at, _, sig = spec.rpartition(":")
    if (int(at) == _passed[0]) if at.isdigit() else (at == name and name not in _hit):
        _hit.add(name)
        signum = getattr(signal, f"SIG{sig.upper().removeprefix('SIG')}")
        if threading.current_thread() is threading.main_thread():
            signal.raise_signal(signum)  # handlers run before this returns; SIGKILL ends the process here
        else:
            _received.append(signum)


def passed():
    """How many boundaries this process has passed."""
    return _passed[0]


def reset():
    """Count boundaries from zero again (a test that runs several commands in one process)."""
    _passed[0] = 0
    _hit.clear()


@contextlib.contextmanager
def deferred():
    """Within the block, Ctrl-C and SIGTERM wait (blocked) and arrive as it ends: a short write that must not be
    cut (a file another module writes its own way) finishes first."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)
