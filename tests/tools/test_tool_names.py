"""Each tool names itself as it is run, `python -m tools.NAME`, in its one-line errors (exit status 2)."""
import importlib

import pytest


@pytest.mark.parametrize("name, argv", [
    ("measure", ["{tmp}"]),  # not a run folder
    ("summarize", ["{tmp}"]),  # no run folder in it
    ("compare_runs", ["{tmp}"]),  # not a finished run folder
    ("tune", ["--space", "{{bad"]),  # not JSON
    ("classifier", ["--out", "{tmp}/taken.weights.h5"]),  # exists already
])
def test_tool_errors_name_the_module(name, argv, tmp_path, capsys):
    (tmp_path / "taken.weights.h5").write_bytes(b"")
    main = importlib.import_module(f"tools.{name}").main
    with pytest.raises(SystemExit) as exc:
        main([arg.format(tmp=tmp_path) for arg in argv])
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"python -m tools.{name}: error: "), err
