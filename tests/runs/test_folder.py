"""runs.folder.RunFolder: the states of a run folder, the checks of each file, and what --resume makes of each state.
Runs are made in this process with the fake families (fake_training), without TensorFlow."""
import json
import shutil

import h5py
import numpy as np
import pytest

import fake_training
from runs import manifest, stops
from runs.errors import Damaged, NotARun, RunLocked, WrongState
from runs.files import lock_run_dir
from runs.folder import RunFolder, config_problem, plan_resume


def make_run(tmp_path, monkeypatch, name="r", *extra):
    import run_main
    fake_training.patch(monkeypatch)
    stops.reset()
    args = [*fake_training.ARGS[:-1], "1", *extra, "--results_path", str(tmp_path), "--run_name", name]
    assert run_main.main(args) == 0
    return tmp_path / name


def flip(path, at=None):
    data = bytearray(path.read_bytes())
    data[len(data) // 2 if at is None else at] ^= 0x01
    path.write_bytes(bytes(data))


def test_a_run_goes_through_its_states_and_records_each_file(tmp_path, monkeypatch):
    folder = RunFolder.create(tmp_path, "r", "x", lambda path: {"model": "vae", "dim_z": 3, "n_hidden": 4})
    assert folder.state() == "being_made" and list(folder.manifest()["files"]) == ["config.json"]
    folder.release()
    run = make_run(tmp_path, monkeypatch, "s")
    doc = json.loads((run / "manifest.json").read_text())
    assert doc["state"] == "finished" and "pending" not in doc
    assert sorted(doc["files"]) == ["checkpoint.npz", "config.json", "metrics.csv", "metrics.json", "model.weights.h5"]
    assert RunFolder(run).metrics()["epochs"] == 1 and RunFolder(run).history()[0]["epoch"] == 1.0


@pytest.mark.parametrize("name", ["config.json", "checkpoint.npz", "metrics.csv", "metrics.json", "model.weights.h5"])
def test_a_byte_changed_in_any_recorded_file_is_named_with_what_to_do(tmp_path, monkeypatch, name):
    run = make_run(tmp_path, monkeypatch)
    flip(run / name)
    folder = RunFolder(run)
    with pytest.raises(Damaged, match=f"^{run / name} does not match its checksum in manifest.json") as exc:
        folder.read(name)
    fix = {"config.json": "mend it from a copy", "checkpoint.npz": "still restores and loads from its weights",
           "metrics.csv": f"--resume {run}' writes it again", "metrics.json": f"--restore {run}",
           "model.weights.h5": f"'python run_main.py --resume {run}' rebuilds it from checkpoint.npz"}[name]
    assert fix in str(exc.value)


def test_missing_weights_and_checkpoint_leave_no_model_behind_the_numbers(tmp_path, monkeypatch):
    run = make_run(tmp_path, monkeypatch)
    (run / "checkpoint.npz").unlink()
    (run / "model.weights.h5").unlink()
    with pytest.raises(Damaged, match="model.weights.h5 is missing; there is no good checkpoint.npz to rebuild it from "
                                      "either, so no model stands behind the numbers in metrics.json"):
        plan_resume(RunFolder(run))


def test_resume_of_a_finished_run_remakes_only_what_is_damaged(tmp_path, monkeypatch):
    run = make_run(tmp_path, monkeypatch)
    before = {p.name: p.read_bytes() for p in run.iterdir() if p.is_file()}
    (run / "model.weights.h5").unlink()
    flip(run / "metrics.csv")
    assert plan_resume(RunFolder(run)).kind == "repair"
    import run_main
    assert run_main.main(["--resume", str(run)]) == 0
    assert (run / "metrics.csv").read_bytes() == before["metrics.csv"]  # the checkpoint's rows, byte for byte
    with h5py.File(run / "model.weights.h5") as f:
        assert f["layers/dense/vars/0"].shape == (3, 4)
    assert RunFolder(run).read("model.weights.h5") and (run / "metrics.json").read_bytes() == before["metrics.json"]
    with pytest.raises(WrongState, match="has finished already"):
        plan_resume(RunFolder(run))


@pytest.mark.parametrize("text, problem", [
    ("[]", "it holds a list, not an object of flags"),
    ("null", "it holds null, not an object of flags"),
    ("{}", "it names no model"),
    ('{"model": "vae", "dim_z": "2"}', 'dim_z is "2", where run_main.py takes int values'),
    ('{"model": "gan"}', "argument --model: invalid choice: 'gan'"),
    ('{"model": "vae", "dim_z": null}', "dim_z is null"),
    ('{"model": "vae", "dim_z": 0}', "argument --dim_z: must lie in [1, 1000], got 0"),
    ('{"model": "vae", "add_noise": "yes"}', 'add_noise is "yes", where run_main.py takes bool values'),
])
def test_a_config_that_parses_but_is_no_run_is_named_in_one_line(tmp_path, text, problem):
    assert problem in config_problem(json.loads(text))
    (tmp_path / "config.json").write_text(text)
    with pytest.raises(Damaged, match="config.json does not describe a run"):
        RunFolder(tmp_path).config()


def test_a_config_of_every_flag_and_an_older_one_are_runs(tmp_path):
    from training.flags import parse_args
    assert config_problem(vars(parse_args(["--model", "m2", "--alpha", "0.5"])) | {"run_dir": "x"}) is None
    assert config_problem({"model": "vae", "dim_z": 50, "n_hidden": 500, "learn_rate": 1}) is None  # an int rate
    assert config_problem({"model": "m2"}) is None  # before --alpha: its default for m2


def test_a_run_made_before_manifests_loads_with_every_check_but_checksums(tmp_path, monkeypatch):
    run = make_run(tmp_path, monkeypatch)
    (run / "manifest.json").unlink()
    folder = RunFolder(run)
    assert folder.state() == "finished" and not folder.checked and folder.config()["dim_z"] == 3
    with h5py.File(run / "model.weights.h5", "r+") as f:
        f["layers/dense/vars/0"][0, 0] = np.nan
    assert "holds non-finite values" in folder.problem("model.weights.h5")
    with h5py.File(run / "model.weights.h5", "r+") as f:
        f["layers/dense/vars/0"][0, 0] = 1.0
    model = fake_training.Model({"seed": 0, "dim_z": 5, "n_hidden": 4})
    with pytest.raises(Damaged, match="does not fit config.json: its arrays' shapes differ"):
        folder.load_weights(model)
    RunFolder(run).take().update_metrics(lambda m: m | {"measured": 1.0})  # a writer records it from then on
    doc = json.loads((run / "manifest.json").read_text())
    assert doc["state"] == "finished" and "metrics.json" not in doc["adopted"] and "config.json" in doc["adopted"]


def test_a_transition_left_pending_by_a_dead_writer_is_finished_by_the_next_reader(tmp_path, monkeypatch):
    run = make_run(tmp_path, monkeypatch)
    folder = RunFolder(run).take()
    real_replace = manifest.os.replace

    def killed_before_the_csv(src, dst):
        if str(dst).endswith("metrics.csv"):
            raise SystemExit("killed")
        real_replace(src, dst)
    monkeypatch.setattr(manifest.os, "replace", killed_before_the_csv)
    monkeypatch.setattr(manifest.Transaction, "__exit__", lambda self, *exc: None)  # a kill cleans up nothing
    with pytest.raises(SystemExit):
        t = folder._transaction()
        t.write_text("metrics.json", '{"test_neg_elbo": 1.0}')
        t.write_text("metrics.csv", "epoch,test_loss\r\n1,1.0\r\n")
        t.commit("finished")
    monkeypatch.undo()
    assert "pending" in json.loads((run / "manifest.json").read_text())
    with pytest.raises(RunLocked):  # its writer still holds the lock: a reader waits, then says so
        RunFolder(run).metrics()
    folder.release()
    assert RunFolder(run).metrics() == {"test_neg_elbo": 1.0}  # the lock is free: the reader finishes it
    assert RunFolder(run).history() == [{"epoch": 1.0, "test_loss": 1.0}] and not list(run.glob(".tmp-*"))


def test_an_extension_that_never_committed_is_rolled_back_keeping_what_is_not_the_runs(tmp_path, monkeypatch):
    run = make_run(tmp_path, monkeypatch)
    folder = RunFolder(run).take()
    plan = plan_resume(folder, 3)
    assert plan.kind == "extend" and plan.config["num_epochs"] == 3 and plan.config["extended_from"] == [1]
    folder.extend(plan.epochs_done, 1)
    assert RunFolder(run).state() == "being_extended" and RunFolder(run).metrics()["epochs"] == 1
    (run / "samples_epoch_02.png").write_bytes(b"drawn by the extension")
    (run / "notes.txt").write_text("the user's, put here meanwhile")
    folder.release()  # killed: the next writer puts the run back
    RunFolder(run).take().release()
    assert RunFolder(run).state() == "finished" and not (run / "samples_epoch_02.png").exists()
    assert (run / "notes.txt").read_text() == "the user's, put here meanwhile"


def test_resume_refuses_what_it_cannot_go_on_from(tmp_path, monkeypatch):
    run = make_run(tmp_path, monkeypatch)
    with pytest.raises(WrongState, match="--resume only extends a run"):
        plan_resume(RunFolder(run), 0)
    restore = RunFolder.create(run, None, "restore_x", lambda path: json.loads((run / "config.json").read_text()))
    restore.finish_restored({"test_neg_elbo": 1.0}, (run / "metrics.csv").read_bytes())
    with pytest.raises(WrongState, match="is a --restore folder, not a run"):
        plan_resume(RunFolder(restore.path))
    with pytest.raises(NotARun):
        RunFolder(tmp_path).state()
    restore.release()
    held = lock_run_dir(run)
    with pytest.raises(RunLocked):
        RunFolder(run).take()
    held.close()
    shutil.rmtree(restore.path)
