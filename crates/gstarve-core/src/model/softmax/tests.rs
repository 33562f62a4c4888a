use nalgebra::{DMatrix, DVector};

use super::*;
use crate::model::{Loss, PrimalDynamics};
use crate::systems::multiclass::random_multiclass;
use crate::systems::{FeatureSystem, Spectrum};

fn regularisers() -> [Regulariser; 3] {
    [
        Regulariser::None,
        Regulariser::L2 { lambda: 0.07 },
        Regulariser::SpectralDecoupling { lambda: 0.05 },
    ]
}

fn central_difference_jacobian(d: &SoftmaxDynamics, z: &DVector<f64>) -> DMatrix<f64> {
    let r = z.len();
    let mut jac = DMatrix::zeros(r, r);
    for k in 0..r {
        let h = 1e-6 * (1.0 + z[k].abs());
        let (mut zp, mut zm) = (z.clone(), z.clone());
        zp[k] += h;
        zm[k] -= h;
        jac.set_column(k, &((d.rhs(&zp) - d.rhs(&zm)) / (2.0 * h)));
    }
    jac
}

#[test]
fn jacobian_and_its_action_match_finite_differences() {
    let sys = random_multiclass(4, 3, 9, 5);
    let z = DVector::from_fn(9, |j, _| 0.8 * (j as f64 - 4.0) / 3.0);
    let v = DVector::from_fn(9, |j, _| ((j * 5) % 7) as f64 - 3.0);
    for reg in regularisers() {
        let d = SoftmaxDynamics::new(&sys, reg).unwrap();
        let analytic = d.jacobian(&z);
        let numeric = central_difference_jacobian(&d, &z);
        let err = (&analytic - numeric).amax();
        assert!(err < 1e-8 * analytic.amax().max(1.0), "{reg:?}: {err:e}");
        let gap = (d.jacobian_action(&z, &v) - &analytic * &v).amax();
        assert!(
            gap < 1e-12 * (&analytic * &v).amax().max(1.0),
            "{reg:?}: {gap:e}"
        );
    }
}

/// UᵀHU against the direct blockdiag(diag(p) − ppᵀ) product, and accurate relative to H itself
/// where the examples are confidently classified (logits ~ 40: H ~ e^{−40} ≈ 4e-18, far below the
/// rounding of the direct form's O(1) terms).
#[test]
fn curvature_gram_equals_the_direct_form_and_keeps_relative_accuracy() {
    let sys = random_multiclass(5, 4, 20, 11);
    let d = SoftmaxDynamics::new(&sys, Regulariser::L2 { lambda: 0.1 }).unwrap();
    let u = sys.system().coupling();
    let direct = |z: &DVector<f64>| {
        let (_, p) = d.logits_and_probabilities(z);
        let c = sys.classes();
        let mut h = DMatrix::zeros(u.nrows(), u.nrows());
        for i in 0..sys.examples() {
            for k in 0..c {
                for l in 0..c {
                    let delta = if k == l { p[(i, k)] } else { 0.0 };
                    h[(i * c + k, i * c + l)] = delta - p[(i, k)] * p[(i, l)];
                }
            }
        }
        u.transpose() * h * u
    };
    let z = DVector::from_fn(20, |j, _| ((j * 3) % 5) as f64 - 2.0);
    let gram = d.curvature_gram(&z);
    let expected = direct(&z);
    assert!((&gram - &expected).amax() < 1e-13 * expected.amax());
    // Confident: logits F = U z with the label's logit 40 above every other, so that each H
    // block is ~e^{−40}·(a well-conditioned matrix). The action on v must equal the Gram form,
    // and both be positive semi-definite to relative accuracy.
    let c = sys.classes();
    let mut target = DVector::zeros(u.nrows());
    for (i, &y) in sys.labels().iter().enumerate() {
        for k in 0..c {
            target[i * c + k] = if k == y { 40.0 } else { (k as f64) * 0.3 };
        }
    }
    let z = u.tr_mul(&target);
    let gram = d.curvature_gram(&z);
    let scale = gram.amax();
    assert!(scale > 0.0 && scale < 1e-14, "{scale:e}");
    let v = DVector::from_fn(20, |j, _| (j as f64 * 0.7).sin());
    // Without a regulariser the action is −S²UᵀHUv alone (no λv to swamp it).
    let none = SoftmaxDynamics::new(&sys, Regulariser::None).unwrap();
    let mut dj = none.jacobian_action(&z, &v);
    for j in 0..20 {
        dj[j] /= -d.strengths_squared()[j];
    }
    let gv = &gram * &v;
    let gap = (dj - &gv).amax();
    assert!(
        gap < 1e-12 * gv.amax(),
        "relative accuracy lost: {gap:e} of {:e}",
        gv.amax()
    );
    assert!(gram.symmetric_eigenvalues().min() > -1e-10 * scale);
}

#[test]
fn flow_is_minus_s2_gradient_of_the_objective() {
    let sys = random_multiclass(3, 4, 7, 2);
    let z = DVector::from_fn(7, |j, _| 0.5 - 0.2 * j as f64);
    for reg in [
        Regulariser::L2 { lambda: 0.1 },
        Regulariser::SpectralDecoupling { lambda: 0.2 },
    ] {
        let d = SoftmaxDynamics::new(&sys, reg).unwrap();
        let f = d.rhs(&z);
        for k in 0..7 {
            let h = 1e-6;
            let (mut zp, mut zm) = (z.clone(), z.clone());
            zp[k] += h;
            zm[k] -= h;
            let grad = (d.objective(&zp) - d.objective(&zm)) / (2.0 * h);
            assert!(
                (f[k] + d.strengths_squared()[k] * grad).abs() < 1e-7,
                "{reg:?}"
            );
        }
    }
}

/// docs/theory.md §9.3: H's eigenvalues lie in [0, ½], so ‖∂F/∂z‖ ≤ λ + s₁²/2 (L2).
#[test]
fn the_spectral_bound_holds() {
    let sys = random_multiclass(6, 5, 30, 4);
    let d = SoftmaxDynamics::new(&sys, Regulariser::L2 { lambda: 0.3 }).unwrap();
    for seed in 0..5 {
        let z = DVector::from_fn(30, |j, _| ((j * 13 + seed * 7) % 11) as f64 / 3.0 - 1.5);
        let jac = d.jacobian(&z);
        let rho = jac.singular_values().max();
        assert!(
            rho <= d.curvature_bound() * (1.0 + 1e-12),
            "{rho} {}",
            d.curvature_bound()
        );
    }
}

/// docs/theory.md §9.4: the two-logit image of a binary system evolves as the binary system
/// through z = √2·z_mc: F_bin(z) = √2·F_mc(z/√2) for L2 and none; SD only at λ_mc = 2λ_bin.
#[test]
fn the_binary_image_reproduces_the_binary_right_hand_side() {
    let binary = FeatureSystem::random(5, Spectrum::Geometric { from: 4.0, to: 0.3 }, 9).unwrap();
    let signs = [1.0, -1.0, -1.0, 1.0, -1.0];
    let image = MulticlassSystem::binary_image(&binary, Some(&signs)).unwrap();
    let folded = MulticlassSystem::binary_image(&binary, None).unwrap();
    let z = DVector::from_vec(vec![0.9, -0.4, 1.7, 0.2, -1.1]);
    let root2 = std::f64::consts::SQRT_2;
    for (reg_bin, reg_mc) in [
        (Regulariser::None, Regulariser::None),
        (
            Regulariser::L2 { lambda: 0.05 },
            Regulariser::L2 { lambda: 0.05 },
        ),
        (
            Regulariser::SpectralDecoupling { lambda: 0.05 },
            Regulariser::SpectralDecoupling { lambda: 0.1 },
        ),
    ] {
        let bin = PrimalDynamics::new(&binary, Loss::Logistic, reg_bin).unwrap();
        let expected = bin.rhs(&z);
        for sys in [&image, &folded] {
            let mc = SoftmaxDynamics::new(sys, reg_mc).unwrap();
            let got = mc.rhs(&(&z / root2)) * root2;
            assert!(
                (&got - &expected).amax() < 1e-14 * expected.amax().max(1.0),
                "{reg_bin:?}"
            );
            let jac = mc.jacobian(&(&z / root2));
            assert!(
                (jac - bin.jacobian(&z)).amax() < 1e-13,
                "{reg_bin:?} Jacobian"
            );
        }
    }
    // The SD spec as written (the same λ) does not reduce: the two-logit ‖F‖² is ½‖ŷ‖².
    let bin = PrimalDynamics::new(
        &binary,
        Loss::Logistic,
        Regulariser::SpectralDecoupling { lambda: 0.05 },
    )
    .unwrap();
    let same =
        SoftmaxDynamics::new(&image, Regulariser::SpectralDecoupling { lambda: 0.05 }).unwrap();
    let gap = (same.rhs(&(&z / root2)) * root2 - bin.rhs(&z)).amax();
    assert!(gap > 1e-3, "{gap}");
}

/// The curvature's action equals its matrix, and the matrix is symmetric (docs/theory.md §9.5).
#[test]
fn curvature_action_equals_its_gram() {
    let sys = random_multiclass(6, 4, 24, 3);
    let d = SoftmaxDynamics::new(&sys, Regulariser::L2 { lambda: 0.1 }).unwrap();
    let z = DVector::from_fn(24, |j, _| ((j * 5) % 7) as f64 - 3.0);
    let v = DVector::from_fn(24, |j, _| (j as f64 * 0.3).cos());
    let curvature = d.curvature(&z);
    let gram = curvature.gram();
    let gv = &gram * &v;
    assert!((curvature.action(&v) - &gv).amax() < 1e-13 * gv.amax());
    assert_eq!(gram, gram.transpose());
}

/// The scaled Gram form handed to BDF, −diag(d)·G − μI, is the Jacobian, and G is symmetric.
#[test]
fn scaled_gram_jacobian_is_the_jacobian() {
    let sys = random_multiclass(5, 4, 20, 2);
    let z = DVector::from_fn(20, |j, _| 0.6 * ((j * 3) % 7) as f64 - 1.5);
    for reg in regularisers() {
        let d = SoftmaxDynamics::new(&sys, reg).unwrap();
        let mut g = DMatrix::from_element(20, 20, f64::NAN);
        let (s2, mu) = d.scaled_gram_jacobian(z.as_slice(), &mut g).unwrap();
        let rebuilt = -DMatrix::from_diagonal(&DVector::from_column_slice(s2)) * &g
            - DMatrix::identity(20, 20) * mu;
        let jac = d.jacobian(&z);
        let err = (&rebuilt - &jac).amax();
        assert!(err < 1e-14 * jac.amax(), "{reg:?}: {err:e}");
        assert_eq!(g, g.transpose(), "{reg:?}");
    }
}

/// The diagonal of UᵀHU without forming it equals the Gram matrix's diagonal, at a moderate
/// point and at a confident one (every H block ~e^{−40}), where it keeps relative accuracy.
#[test]
fn curvature_diagonal_equals_the_grams() {
    let sys = random_multiclass(6, 4, 24, 5);
    let d = SoftmaxDynamics::new(&sys, Regulariser::L2 { lambda: 0.1 }).unwrap();
    let u = sys.system().coupling();
    let c = sys.classes();
    let mut confident = DVector::zeros(u.nrows());
    for (i, &y) in sys.labels().iter().enumerate() {
        for k in 0..c {
            confident[i * c + k] = if k == y { 40.0 } else { (k as f64) * 0.3 };
        }
    }
    for z in [
        DVector::from_fn(24, |j, _| ((j * 5) % 7) as f64 - 3.0),
        u.tr_mul(&confident),
    ] {
        let curvature = d.curvature(&z);
        let expected = curvature.gram().diagonal();
        let diagonal = curvature.diagonal();
        let gap = (&diagonal - &expected).amax();
        assert!(
            gap < 1e-13 * expected.amax(),
            "{gap:e} of {:e}",
            expected.amax()
        );
        assert!(diagonal.min() > 0.0);
    }
}

/// The diagonal summed eight columns side by side is bit for bit the one-column formula
/// Σᵢ [Σ_k p_k (d_k − t)² − p_a t²] (each sum in the same order), at a rank that is not a
/// multiple of eight (a partly filled last group) and on all cores (r·nc ≥ 2¹⁶).
#[test]
fn curvature_diagonal_lanes_equal_one_column_at_a_time() {
    for (n, c, r) in [(6, 4, 21), (70, 10, 700)] {
        let sys = random_multiclass(n, c, r, 3);
        let d = SoftmaxDynamics::new(&sys, Regulariser::L2 { lambda: 0.1 }).unwrap();
        let z = DVector::from_fn(r, |j, _| ((j * 5) % 7) as f64 - 3.0);
        let f = d.logits(&z);
        let blocks: Vec<Block> = (0..n)
            .map(|i| Block::new(&f.as_slice()[i * c..(i + 1) * c]))
            .collect();
        let u = sys.system().coupling();
        let one_column = |j: usize| {
            let col = u.column(j);
            let mut sum = 0.0;
            for (block, x) in blocks.iter().zip(col.as_slice().chunks_exact(c)) {
                let beta = 1.0 / (1.0 + block.p[block.anchor].sqrt());
                let xa = x[block.anchor];
                let q: f64 = block.p.iter().zip(x).map(|(&p, &x)| p * (x - xa)).sum();
                let t = beta * q;
                let all: f64 = block
                    .p
                    .iter()
                    .zip(x)
                    .map(|(&p, &x)| p * ((x - xa) - t) * ((x - xa) - t))
                    .sum();
                sum += all - block.p[block.anchor] * t * t;
            }
            sum
        };
        let diagonal = d.curvature(&z).diagonal();
        for j in 0..r {
            assert_eq!(
                diagonal[j].to_bits(),
                one_column(j).to_bits(),
                "r = {r}, column {j}"
            );
        }
    }
}

/// The logits of a large U, computed in blocks of rows on all cores, are bit for bit one
/// sequential faer product Uz (n·c·r = 300 000 ≥ the parallel threshold; 1000 rows in blocks
/// of 128, the last one shorter).
#[test]
fn parallel_logits_equal_one_sequential_product_bit_for_bit() {
    let sys = random_multiclass(100, 10, 300, 5);
    let d = SoftmaxDynamics::new(&sys, Regulariser::L2 { lambda: 0.01 }).unwrap();
    let z = DVector::from_fn(300, |j, _| ((j * 37) % 11) as f64 / 3.0 - 1.5);
    let u = sys.system().coupling();
    let mut expected = DVector::zeros(u.nrows());
    faer::linalg::matmul::matmul(
        faer::MatMut::from_column_major_slice_mut(expected.as_mut_slice(), u.nrows(), 1),
        faer::Accum::Replace,
        faer::MatRef::from_column_major_slice(u.as_slice(), u.nrows(), u.ncols()),
        faer::MatRef::from_column_major_slice(z.as_slice(), 300, 1),
        1.0,
        faer::Par::Seq,
    );
    let got = d.logits(&z);
    let differing = got
        .iter()
        .zip(expected.iter())
        .filter(|(a, b)| a.to_bits() != b.to_bits())
        .count();
    assert_eq!(differing, 0);
    assert!(got.amax() > 0.0);
}
