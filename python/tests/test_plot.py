"""Figures from Python: the command line's renderer, with the data beside the image."""

from __future__ import annotations

import pytest

import gstarve


def test_phase_diagram_figure_and_data(tmp_path):
    d = gstarve.phase_diagram("elasticity", grid=24)
    written = gstarve.plot.phase_diagram(d, tmp_path / "pd.png")
    assert [p.name for p in written] == ["pd.png", "pd.csv"]
    png = (tmp_path / "pd.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000
    d.to_csv(tmp_path / "direct.csv")
    assert (tmp_path / "pd.csv").read_bytes() == (tmp_path / "direct.csv").read_bytes()
    svg = gstarve.plot.phase_diagram(d, tmp_path / "pd2.svg")
    assert svg[0].read_text().lstrip().startswith("<svg")
    with pytest.raises(ValueError, match=".png or .svg"):
        gstarve.plot.phase_diagram(d, tmp_path / "pd.jpg")
