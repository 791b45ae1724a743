"""engine.spectrum: eigsh on HVP operators, Hutchinson's trace, stochastic Lanczos quadrature.

Oracles: LAPACK's eigh of the full Hessian (built from HVPs, checked against torch in test_hvp) and of
explicit matrices with known spectra; the exact trace; the laws the estimators obey (unbiasedness
within the reported error bars, a density that integrates to 1 and has mean trace/n).
"""

from __future__ import annotations

import numpy as np
import pytest

from engine.datasets import make_dataset
from engine.errors import EngineInputError
from engine.hvp import mlp_hessian
from engine.mlp import build_mlp, init_params
from engine.spectrum import (
    dense_matrix, eigenpairs, hessian_operator, hutchinson_trace, lanczos, scaled_operator, spectral_density,
)


@pytest.fixture(scope="module")
def moons_hessian():
    d = make_dataset("moons", {"n_train": 200, "seed": 0})
    net = build_mlp([2, 16, 1], "tanh")
    h = mlp_hessian(net, init_params(net, None, 0), d.X_train, d.Y_train, "mse")
    return h, h.matrix().matrix


def _matrix_operator(A):
    return hessian_operator(A.shape[0], lambda v, out: np.dot(A, v, out=out))


def test_top_and_bottom_eigenvalues_equal_the_full_matrix_to_1e_8(moons_hessian):
    h, H = moons_hessian
    w, V = np.linalg.eigh(H)
    assert np.abs(H - H.T).max() <= 1e-12 * np.abs(H).max()
    top = eigenpairs(h, 5, "LA", tol=1e-10)
    bottom = eigenpairs(h, 5, "SA", tol=1e-10)
    assert top.method == "lanczos" and top.converged == 5
    np.testing.assert_allclose(top.values, w[::-1][:5], rtol=0, atol=1e-8)
    np.testing.assert_allclose(bottom.values, w[:5], rtol=0, atol=1e-8)
    assert abs(abs(top.vectors[:, 0] @ V[:, -1]) - 1.0) < 1e-8  # the eigenvector too (up to sign)
    assert 0 < top.matvecs < 1000 and top.ncv == 20


def test_single_pair_meets_eigsh_s_test_with_fewer_products(moons_hessian):
    """k = 1 runs the engine's Lanczos: the same pair as LAPACK, the residual test eigsh applies (checked
    with the full matrix), and fewer products than eigsh with the same start, tolerance and ncv."""
    from scipy.sparse.linalg import LinearOperator, eigsh

    h, H = moons_hessian
    w, V = np.linalg.eigh(H)
    v0 = np.random.default_rng(0).standard_normal(h.n)
    for which, want, col in (("LA", w[-1], -1), ("SA", w[0], 0)):
        e = eigenpairs(h, 1, which, tol=1e-6, v0=v0)
        theta, y = float(e.values[0]), e.vectors[:, 0]
        assert e.method == "lanczos" and e.converged == 1 and e.ncv == 20
        assert np.linalg.norm(H @ y - theta * y) <= 1e-6 * abs(theta) * (1 + 1e-9)
        assert theta == pytest.approx(want, rel=1e-9)
        assert abs(abs(y @ V[:, col]) - 1.0) < 1e-6 and np.linalg.norm(y) == pytest.approx(1.0, abs=1e-14)
        calls = []
        eigsh(LinearOperator((h.n, h.n), matvec=lambda x: (calls.append(1), h.hvp(x))[1], dtype=np.float64), k=1,
              which=which, tol=1e-6, ncv=20, v0=v0)
        assert e.matvecs < len(calls), (which, e.matvecs, len(calls))
    again = eigenpairs(h, 1, "LA", tol=1e-6, v0=v0)
    first = eigenpairs(h, 1, "LA", tol=1e-6, v0=v0)
    assert again.values[0] == first.values[0] and np.array_equal(again.vectors, first.vectors)  # bit-reproducible


def test_single_pair_restarts_and_says_when_it_did_not_converge():
    lam = np.linspace(1.0, 2.0, 60) ** 3  # clustered at the top: slow convergence
    calls = []
    op = hessian_operator(60, lambda v, out: (calls.append(1), np.multiply(lam, v, out=out)))
    e = eigenpairs(op, 1, "LA", tol=1e-10, ncv=4, seed=3)  # restarts every 4 products
    assert e.converged == 1 and e.values[0] == pytest.approx(8.0, rel=1e-9) and e.matvecs == len(calls) > 4
    calls.clear()
    stuck = eigenpairs(op, 1, "LA", tol=1e-14, ncv=3, maxiter=2, seed=3)
    assert stuck.converged == 0 and stuck.values.shape == (0,) and stuck.matvecs == len(calls) == 3 + 2  # a restart keeps 1 of 3
    exact = eigenpairs(op, 1, "SA", v0=np.eye(60)[0])  # an eigenvector: an invariant subspace after 1 product
    assert exact.values.tolist() == [1.0] and exact.matvecs == 1


def test_matvecs_count_every_operator_application():
    A = np.diag(np.arange(1.0, 41.0))
    calls = []
    op = hessian_operator(40, lambda v, out: (calls.append(1), np.dot(A, v, out=out)))
    e = eigenpairs(op, 3, "LA", tol=1e-12, seed=1)
    np.testing.assert_allclose(e.values, [40.0, 39.0, 38.0], atol=1e-10)
    assert e.matvecs == len(calls)


def test_warm_start_and_dense_fallback():
    rng = np.random.default_rng(2)
    Q, _ = np.linalg.qr(rng.standard_normal((30, 30)))
    lam = np.linspace(-3.0, 5.0, 30)
    A = (Q * lam) @ Q.T
    op = _matrix_operator(A)
    cold = eigenpairs(op, 1, "LA", tol=1e-10)
    warm = eigenpairs(op, 1, "LA", tol=1e-10, v0=cold.vectors[:, 0])
    assert warm.values[0] == pytest.approx(5.0, abs=1e-9) and warm.matvecs <= cold.matvecs
    small = _matrix_operator(A[:4, :4])  # k >= n - 1: eigsh cannot; eigh of the matrix instead
    d = eigenpairs(small, 3, "SA")
    assert d.method == "dense"
    np.testing.assert_allclose(d.values, np.linalg.eigvalsh(A[:4, :4])[:3], atol=1e-12)


def test_hutchinson_trace_is_within_its_error_bar(moons_hessian):
    h, H = moons_hessian
    exact = np.trace(H)
    for seed in range(3):
        t = hutchinson_trace(h, 200, seed)
        assert t.stderr > 0 and t.samples == 200
        assert abs(t.trace - exact) <= 4.0 * t.stderr, (seed, t.trace, exact, t.stderr)
    t = hutchinson_trace(_matrix_operator(np.diag([1.0, 2.0, 3.0])), 5, 0)
    assert t.trace == pytest.approx(6.0, abs=1e-12) and t.stderr == 0.0  # zᵢ² = 1: exact for diagonals


def test_lanczos_builds_the_tridiagonal_matrix_of_the_operator():
    rng = np.random.default_rng(3)
    B = rng.standard_normal((12, 12))
    A = B + B.T
    t = lanczos(_matrix_operator(A), rng.standard_normal(12), 12)
    T = np.diag(t.alpha) + np.diag(t.beta, 1) + np.diag(t.beta, -1)
    np.testing.assert_allclose(np.linalg.eigvalsh(T), np.linalg.eigvalsh(A), atol=1e-10)  # n steps: exact
    # an invariant subspace ends it early: a start vector inside a 3-dimensional eigenspace
    D = np.diag([1.0, 2.0, 3.0] + [7.0] * 9)
    t = lanczos(_matrix_operator(D), np.r_[1.0, 1.0, 1.0, np.zeros(9)], 10)
    assert t.steps == 3


def test_slq_density_integrates_to_one_and_its_mean_is_trace_over_n(moons_hessian):
    h, H = moons_hessian
    n = H.shape[0]
    d = spectral_density(h, steps=40, probes=8, seed=0)
    assert np.trapezoid(d.y, d.x) == pytest.approx(1.0, abs=1e-6)
    np.testing.assert_allclose(d.weights.sum(axis=1), 1.0, atol=1e-12)
    assert np.trapezoid(d.x * d.y, d.x) == pytest.approx(d.mean, abs=1e-6 * np.abs(d.x).max())
    assert abs(d.mean - np.trace(H) / n) <= 4.0 * d.mean_stderr
    assert d.matvecs == 8 * 40 and (d.y >= 0).all() and np.isfinite(d.y).all()
    w = np.linalg.eigvalsh(H)  # the nodes lie inside the spectrum; the extreme ones converge first
    assert d.nodes.min() >= w[0] - 1e-9 and d.nodes.max() <= w[-1] + 1e-9
    assert d.nodes.max() == pytest.approx(w[-1], rel=1e-8)


def test_slq_of_a_known_spectrum_puts_its_mass_on_the_eigenvalues():
    lam = np.r_[np.zeros(60), np.full(30, 2.0), np.full(10, 10.0)]
    d = spectral_density(_matrix_operator(np.diag(lam)), steps=20, probes=16, sigma=0.01, points=2001, seed=4)
    mass = {c: np.trapezoid(np.where(abs(d.x - c) < 0.5, d.y, 0.0), d.x) for c in (0.0, 2.0, 10.0)}
    assert mass[0.0] == pytest.approx(0.6, abs=0.1)
    assert mass[2.0] == pytest.approx(0.3, abs=0.1)
    assert mass[10.0] == pytest.approx(0.1, abs=0.05)
    assert d.mean == pytest.approx(lam.mean(), abs=4 * d.mean_stderr + 1e-12)


def test_scaled_operator_has_the_spectrum_of_d2_h():
    rng = np.random.default_rng(5)
    B = rng.standard_normal((25, 25))
    A = B @ B.T
    d = rng.uniform(0.5, 2.0, 25)
    op = scaled_operator(_matrix_operator(A), d)
    want = np.linalg.eigvals(np.diag(d * d) @ A).real.max()  # λ_max(P⁻¹H) with P⁻¹ = D²
    assert eigenpairs(op, 1, "LA", tol=1e-12).values[0] == pytest.approx(want, rel=1e-10)
    np.testing.assert_allclose(dense_matrix(op), np.diag(d) @ A @ np.diag(d), atol=1e-10)


def test_refusals_name_the_argument(moons_hessian):
    h, _ = moons_hessian
    for call, field in [
        (lambda: eigenpairs(h, 21), "k"),
        (lambda: eigenpairs(h, 0), "k"),
        (lambda: eigenpairs(h, 2, "LM"), "which"),
        (lambda: eigenpairs(h, 2, tol=2.0), "tol"),
        (lambda: eigenpairs(h, 2, v0=np.zeros(h.n)), "v0"),
        (lambda: hutchinson_trace(h, 1001), "samples"),
        (lambda: spectral_density(h, steps=201), "steps"),
        (lambda: spectral_density(h, probes=33), "probes"),
        (lambda: spectral_density(h, sigma=0.0), "sigma"),
        (lambda: eigenpairs(object(), 1), "op"),
        (lambda: scaled_operator(h, np.ones(3)), "d"),
    ]:
        with pytest.raises(EngineInputError) as err:
            call()
        assert err.value.field == field
