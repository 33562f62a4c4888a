"""gstarve.ensemble: the CLI's numbers (its CSV, byte for byte) as arrays, the decoupled cell's
zero, and bad input as ValueError."""

import numpy as np
import pytest

import gstarve


ARGS = dict(n=4, decays=(1, 4, 16), couplings=(0, 0.2, "haar"), systems=5, seed=3)


def test_arrays_match_the_command_line_csv(tmp_path, cli):
    e = gstarve.ensemble(**ARGS)
    assert e.fraction.shape == (3, 3) and e.elasticities.shape == (3, 3, 5, 12)
    # δ = 0 is decoupled: every off-diagonal entry is 0 and nothing starves.
    assert np.all(e.elasticities[0] == 0) and np.all(e.fraction[0] == 0)
    # The per-cell quantiles are NumPy's (linear) over the same entries.
    for ic in range(3):
        for i in range(3):
            x = e.elasticities[ic, i].ravel()
            q = np.quantile(x, [0.05, 0.25, 0.5, 0.75, 0.95])
            got = [e.q05[ic, i], e.q25[ic, i], e.q50[ic, i], e.q75[ic, i], e.q95[ic, i]]
            np.testing.assert_allclose(got, q, rtol=1e-13, atol=1e-300)
            assert e.fraction[ic, i] == np.mean(x < -1e-10)
    e.to_csv(tmp_path / "py.csv")
    done = cli.run(
        "ensemble", "--n", "4", "--decay", "1,4,16", "--coupling", "0,0.2,haar",
        "--systems", "5", "--seed", "3", "--out", str(tmp_path / "cli"),
    )
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "py.csv").read_bytes() == (tmp_path / "cli" / "ensemble.csv").read_bytes()


def test_bad_input_raises_value_error():
    with pytest.raises(ValueError, match="decay = 0.5 is invalid"):
        gstarve.ensemble(decays=(0.5,), systems=1)
    with pytest.raises(ValueError, match="coupling 'strong' is invalid"):
        gstarve.ensemble(couplings=("strong",), systems=1)
    with pytest.raises(ValueError, match="systems = 0"):
        gstarve.ensemble(systems=0)
