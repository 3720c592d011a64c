"""runs.files: files written whole through temporary files no link can redirect, never over a user's file; the lock
opened without following a link; paths whose links lead nowhere named as such."""
import errno
import os

import pytest

from runs import files
from runs.errors import Damaged, RunLocked


def test_a_link_planted_at_the_temporary_name_is_refused_and_the_users_file_is_untouched(tmp_path):
    mine = tmp_path / "mine.txt"
    mine.write_text("the user's own")
    (tmp_path / f".tmp-{os.getpid()}-metrics.json").symlink_to(mine)
    with pytest.raises(OSError) as exc:
        files.write_json(tmp_path / "metrics.json", {"a": 1})
    assert exc.value.filename == str(tmp_path / "metrics.json") and exc.value.errno == errno.EEXIST
    assert mine.read_text() == "the user's own" and not (tmp_path / "metrics.json").exists()


def test_a_link_at_the_target_is_replaced_never_written_through(tmp_path):
    mine = tmp_path / "mine.csv"
    mine.write_text("the user's own")
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "metrics.csv").symlink_to(mine)
    files.write_csv(tmp_path / "run" / "metrics.csv", [{"epoch": 1}])
    assert mine.read_text() == "the user's own"
    assert not (tmp_path / "run" / "metrics.csv").is_symlink() and "epoch" in (tmp_path / "run" / "metrics.csv").read_text()


@pytest.mark.parametrize("link", ["symbolic", "hard"])
def test_the_lock_is_never_a_link_to_a_users_file(tmp_path, link):
    mine = tmp_path / "mine.txt"
    mine.write_text("the user's own")
    run = tmp_path / "run"
    run.mkdir()
    (run / ".lock").symlink_to(mine) if link == "symbolic" else os.link(mine, run / ".lock")
    with pytest.raises(Damaged, match=r"\.lock is (a symbolic link|not a plain file of this folder)"):
        files.lock_run_dir(run)
    assert mine.read_text() == "the user's own"


def test_a_second_lock_is_refused_naming_the_holder_and_goes_with_its_file(tmp_path):
    held = files.lock_run_dir(tmp_path)
    with pytest.raises(RunLocked, match=f"{tmp_path} is in use by process {os.getpid()} "):
        files.lock_run_dir(tmp_path)
    held.close()  # the kernel drops the lock with the process (or its file): the folder can be taken again
    files.lock_run_dir(tmp_path).close()


def test_a_full_disk_names_the_file_and_removes_the_temporary_one(tmp_path, monkeypatch):
    (tmp_path / "metrics.json").write_text("{}")

    def full(fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    monkeypatch.setattr(os, "fsync", full)
    for write in (lambda: files.write_json(tmp_path / "metrics.json", {"a": 1}),
                  lambda: files.write_new(tmp_path / "new.png", lambda f: f.write(b"png"))):
        with pytest.raises(OSError, match="No space left") as exc:
            write()
        assert exc.value.filename in (str(tmp_path / "metrics.json"), str(tmp_path / "new.png"))
    assert [p.name for p in tmp_path.iterdir()] == ["metrics.json"]  # the old file whole, no temporary file
    assert (tmp_path / "metrics.json").read_text() == "{}"


def test_a_new_file_never_replaces_one_made_meanwhile(tmp_path):
    target = tmp_path / "out.png"
    with pytest.raises(FileExistsError):
        files.write_new(target, lambda f: target.write_text("made meanwhile") or f.write(b"mine"))
    assert target.read_text() == "made meanwhile" and files.leftover_temporaries(tmp_path) == []
    files.write_new(tmp_path / "b.png", lambda f: f.write(b"whole"))
    assert (tmp_path / "b.png").read_bytes() == b"whole"


def test_links_that_lead_nowhere_are_named(tmp_path):
    (tmp_path / "dangling").symlink_to(tmp_path / "nowhere")
    (tmp_path / "loop").symlink_to(tmp_path / "loop")
    assert files.link_problem(tmp_path / "dangling") == f"{tmp_path / 'dangling'} is a symbolic link to {tmp_path / 'nowhere'}, which does not exist"
    assert files.link_problem(tmp_path / "loop" / "sub") == f"{tmp_path / 'loop'} is a loop of symbolic links"
    assert files.link_problem(tmp_path / "new" / "results") is None
