"""NumPy inputs of any dtype and layout give the same system; outputs have the documented
shapes, dtypes and ownership."""

from __future__ import annotations

import numpy as np
import pytest

import gstarve


def data(n=10, p=6, seed=1):
    rng = np.random.default_rng(seed)
    phi = rng.normal(size=(n, p))
    y = np.where(np.arange(n) % 3 == 0, -1.0, 1.0)
    return phi, y


def same_system(a: gstarve.System, b: gstarve.System) -> None:
    assert np.array_equal(a.strengths, b.strengths)
    assert np.array_equal(a.u, b.u)


def test_layouts_give_the_same_system():
    phi, y = data()
    reference = gstarve.System.from_features(phi, y)
    same_system(gstarve.System.from_features(np.asfortranarray(phi), y), reference)
    same_system(gstarve.System.from_features(phi.tolist(), y.tolist()), reference)
    # Non-contiguous views: every other column of a wider array, every other label.
    wide = np.zeros((10, 12))
    wide[:, ::2] = phi
    labels = np.zeros(20)
    labels[::2] = y
    assert not wide[:, ::2].flags.c_contiguous
    same_system(gstarve.System.from_features(wide[:, ::2], labels[::2]), reference)
    # A transposed (Fortran-order) view of Φᵀ.
    same_system(gstarve.System.from_features(np.ascontiguousarray(phi.T).T, y), reference)
    # Labels as 0/1 integers.
    same_system(gstarve.System.from_features(phi, (y > 0).astype(np.int64)), reference)


def test_float32_is_widened_exactly():
    phi, y = data()
    phi32 = phi.astype(np.float32)
    a = gstarve.System.from_features(phi32, y.astype(np.float32))
    b = gstarve.System.from_features(phi32.astype(np.float64), y)
    same_system(a, b)
    k = (phi @ phi.T).astype(np.float32)
    same_system(gstarve.System.from_kernel(k, y), gstarve.System.from_kernel(k.astype(np.float64), y))


def test_strengths_and_coupling_are_read_only_views():
    system = gstarve.System.random(5, seed=2)
    u, s = system.u, system.strengths
    assert u.dtype == np.float64 and u.shape == (5, 5) and u.flags.f_contiguous
    assert s.dtype == np.float64 and s.shape == (5,)
    assert not u.flags.writeable and not s.flags.writeable
    assert not u.flags.owndata and not s.flags.owndata
    # No copy: every access is a view of the same memory, kept alive by the array.
    assert np.shares_memory(u, system.u) and np.shares_memory(s, system.strengths)
    with pytest.raises(ValueError):
        u[0, 0] = 1.0
    del system
    assert np.allclose(u.T @ u, np.eye(5), atol=1e-12)


def test_result_shapes_and_dtypes():
    system = gstarve.System.random(7, seed=4, spectrum=(4, 0.5), rank=3)
    assert (system.examples, system.rank) == (7, 3) and system.u.shape == (7, 3)
    fp = system.fixed_point(lam=0.05)
    assert fp.z.shape == (3,) and fp.margins.shape == (7,) and fp.alpha.shape == (7,)
    assert fp.sensitivity.shape == (3, 3) and fp.elasticity.shape == (3, 3)
    assert fp.z.dtype == np.float64 and fp.sensitivity.dtype == np.float64
    np.testing.assert_allclose(fp.margins, system.u @ fp.z, rtol=1e-13, atol=1e-13)
    runs = system.simulate(methods=["gd", "flow"], lam=0.05, steps=100, points=11)
    assert runs["gd"].z.shape == (11, 3) and runs["gd"].tau.shape == (11,)
    assert runs["gd"].step.dtype == np.uint64 and runs["gd"].step[-1] == 100


def test_save_and_load_round_trip(tmp_path):
    system = gstarve.System.random(6, seed=5)
    for name in ("s.json", "s.toml", "s.npz"):
        system.save(tmp_path / name)
        loaded = gstarve.System.load(tmp_path / name)
        np.testing.assert_array_equal(loaded.strengths, system.strengths)
        np.testing.assert_allclose(loaded.u, system.u, rtol=0, atol=0)


def test_decoupled_steady_state_solves_its_scalar_equation():
    # docs/theory.md §5.1: with U = I, z_j*(1 + e^{z_j*}) = s_j²/λ for each feature.
    rng = np.random.default_rng(7)
    for _ in range(20):
        s = rng.uniform(0.1, 8.0, size=4)
        lam = 10 ** rng.uniform(-3, -1)
        z = gstarve.System.rotation(s).fixed_point(lam=lam).z
        np.testing.assert_allclose(z * (1 + np.exp(z)), s**2 / lam, rtol=1e-11)
