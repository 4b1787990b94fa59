import pytest

from genlearn.cli import main


@pytest.fixture
def one_line_error(capsys):
    """``check(argv, match)``: the command fails with one line on stderr that contains match."""

    def check(argv, match):
        assert main(argv) != 0
        err = capsys.readouterr().err.strip()
        assert err.startswith("genlearn: error:") and len(err.splitlines()) == 1, err
        assert "Traceback" not in err and match in err, err
        return err

    return check
