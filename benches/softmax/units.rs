//! `--units` of the softmax bench: the unit costs of the flow's work and of the fixed point's
//! dense linear algebra on this machine (CPU time of the process; the threads as
//! RAYON_NUM_THREADS says).

use gstarve_core::model::{Regulariser, SoftmaxDynamics};
use gstarve_core::ode::OdeProblem;
use gstarve_core::solvers::steady::NewtonParams;
use gstarve_core::solvers::steady_softmax::softmax_steady_state;
use gstarve_core::systems::MulticlassSystem;
use nalgebra::{DMatrix, DVector};

use super::{cpu_seconds, LAMBDA};

/// CPU seconds per call of `f`, over `count` calls after one warm-up call.
fn time(count: usize, f: &mut dyn FnMut()) -> f64 {
    f();
    let start = cpu_seconds();
    for _ in 0..count {
        f();
    }
    (cpu_seconds() - start) / count as f64
}

/// Wall seconds per call of `f`, over `count` calls after one warm-up call (with the CPU time,
/// the threads' use: CPU/wall ≈ the cores busy).
fn wall(count: usize, f: &mut dyn FnMut()) -> f64 {
    f();
    let start = std::time::Instant::now();
    for _ in 0..count {
        f();
    }
    start.elapsed().as_secs_f64() / count as f64
}

/// CPU seconds of faer's in-place Cholesky of S = G + a·diag(d)⁻¹ in the precision `T` (G's lower
/// triangle column-major in `gram`, its diagonal shifted in f64 and stored by `round`, as BDF's
/// iteration matrix is formed), and of one pair of triangular solves with the factor.
fn cholesky_and_solves<T>(
    gram: &[T],
    r: usize,
    a: f64,
    d: &[f64],
    round: fn(f64) -> T,
) -> (f64, f64)
where
    T: faer::traits::RealField + Copy + Into<f64>,
{
    use faer::dyn_stack::{MemBuffer, MemStack};
    use faer::linalg::cholesky::llt::factor;
    use faer::linalg::triangular_solve::{
        solve_lower_triangular_in_place, solve_upper_triangular_in_place,
    };
    let par = faer::Par::rayon(0);
    let mut s = gram.to_vec();
    let mut mem = MemBuffer::new(factor::cholesky_in_place_scratch::<T>(
        r,
        par,
        Default::default(),
    ));
    let chol = time(5, &mut || {
        s.copy_from_slice(gram);
        for j in 0..r {
            s[j * r + j] = round(gram[j * r + j].into() + a / d[j]);
        }
        let mat = faer::MatMut::from_column_major_slice_mut(s.as_mut_slice(), r, r);
        factor::cholesky_in_place(
            mat,
            Default::default(),
            par,
            MemStack::new(&mut mem),
            Default::default(),
        )
        .expect("positive definite");
    });
    let mut b = vec![round(1.0); r];
    let solves = time(200, &mut || {
        b.fill(round(1.0));
        let l = faer::MatRef::from_column_major_slice(s.as_slice(), r, r);
        let mut x = faer::MatMut::from_column_major_slice_mut(&mut b, r, 1);
        solve_lower_triangular_in_place(l, x.as_mut(), faer::Par::Seq);
        solve_upper_triangular_in_place(l.transpose(), x.as_mut(), faer::Par::Seq);
    });
    (chol, solves)
}

/// `--units`: the unit costs of the flow's work on this machine (the threads as RAYON_NUM_THREADS
/// says): one evaluation of F, one Jacobian (UᵀHU into BDF's matrix), one local stiffness
/// estimate, one Cholesky of G + a·S⁻² (faer, as BDF calls it) and one pair of triangular
/// solves with it (faer's; BDF's own substitutions are of the same size).
pub fn units(dynamics: &SoftmaxDynamics, repeat: usize) {
    let r = OdeProblem::dim(dynamics);
    let z: Vec<f64> = (0..r).map(|j| ((j * 7919) % 101) as f64 / 500.0).collect();
    let mut dz = vec![0.0; r];
    let mut gram = DMatrix::zeros(r, r);
    for _ in 0..repeat {
        let rhs = time(200, &mut || OdeProblem::rhs(dynamics, &z, &mut dz));
        let jac = time(5, &mut || {
            dynamics.scaled_gram_jacobian(&z, &mut gram);
        });
        let zv = DVector::from_column_slice(&z);
        let estimate = time(5, &mut || {
            dynamics.local_stiffness(&zv);
        });
        let d = dynamics.strengths_squared().clone();
        let a = 1.0 / 0.5 + LAMBDA;
        let (chol, solves) = cholesky_and_solves(gram.as_slice(), r, a, d.as_slice(), |v| v);
        // The same Jacobian and Cholesky in f32 (BDF's iteration matrix from r = 256 on), and
        // a pair of f32 triangular solves (faer's; BDF's own f32 substitutions are of the same
        // size).
        let mut g32 = vec![0.0f32; r * r];
        let jac_single = time(5, &mut || {
            dynamics.curvature_gram_lower_single(&z, &mut g32);
        });
        let (chol_single, solves_single) =
            cholesky_and_solves(&g32, r, a, d.as_slice(), |v| v as f32);
        println!(
            "units in f32 (RAYON_NUM_THREADS={}): jacobian (G's lower triangle) {:.2} ms, \
             cholesky {:.2} ms, triangular solve pair {:.3} ms",
            std::env::var("RAYON_NUM_THREADS").unwrap_or_else(|_| "unset".into()),
            jac_single * 1e3,
            chol_single * 1e3,
            solves_single * 1e3
        );
        let evd = time(2, &mut || {
            let g = faer::MatRef::from_column_major_slice(gram.as_slice(), r, r);
            g.self_adjoint_eigen(faer::Side::Lower)
                .expect("eigendecomposition");
        });
        println!(
            "units: symmetric eigendecomposition (faer) {:.1} ms",
            evd * 1e3
        );
        println!(
            "units (RAYON_NUM_THREADS={}): rhs {:.3} ms, jacobian {:.2} ms, local stiffness \
             estimate {:.2} ms, cholesky {:.2} ms, triangular solve pair {:.3} ms",
            std::env::var("RAYON_NUM_THREADS").unwrap_or_else(|_| "unset".into()),
            rhs * 1e3,
            jac * 1e3,
            estimate * 1e3,
            chol * 1e3,
            solves * 1e3
        );
    }
}

/// The fixed point's dense linear algebra at z* (docs/theory.md §9.3, `theory::softmax`): the
/// Hessian UᵀHU = EᵀE (E filled, then faer's lower-triangular product; against the full
/// product), its Cholesky factor, and the inverse L⁻ᵀL⁻¹ (faer's triangular inverse, then its
/// triangular product; against a full product of the triangular inverse), each with its wall
/// and CPU time and GFLOP/s (2 × multiply–adds / wall); and one Hessian action (the conjugate
/// gradients' pass over U) and one evaluation of the drive.
pub fn fixed_point_units(system: &MulticlassSystem, reg: Regulariser, repeat: usize) {
    use faer::linalg::matmul::triangular::{matmul as tri_matmul, BlockStructure};
    let dynamics = SoftmaxDynamics::new(system, reg).expect("dynamics");
    let steady = softmax_steady_state(&dynamics, &NewtonParams::default()).expect("z*");
    let z = &steady.responses;
    let r = dynamics.dim();
    let (n, c) = (system.examples(), system.classes());
    let rows = n * (c - 1);
    let par = faer::Par::rayon(0);
    let report = |what: &str, madds: f64, count: usize, f: &mut dyn FnMut()| {
        let cpu0 = cpu_seconds();
        let w = wall(count, f);
        let cpu = (cpu_seconds() - cpu0) / (count + 1) as f64;
        let rate = if madds > 0.0 {
            format!(", {:.1} GFLOP/s", 2.0 * madds / w * 1e-9)
        } else {
            String::new()
        };
        println!(
            "fixed-point units (RAYON_NUM_THREADS={}): {what}: wall {:.3} ms, CPU {:.3} ms{rate}",
            std::env::var("RAYON_NUM_THREADS").unwrap_or_else(|_| "unset".into()),
            w * 1e3,
            cpu * 1e3
        );
    };
    let rf = r as f64;
    for _ in 0..repeat {
        let curvature = dynamics.curvature(z);
        let v = DVector::from_fn(r, |j, _| ((j * 7919) % 101) as f64 / 500.0);
        report("Hessian action (one pass over U)", 0.0, 200, &mut || {
            std::hint::black_box(curvature.action(&v));
        });
        report(
            "drive Uᵀvec(Y − P) (one pass over U)",
            0.0,
            200,
            &mut || {
                std::hint::black_box(dynamics.drive(z));
            },
        );
        // The two full products a pass could be made of instead (NumPy's way): Uz and Uᵀw,
        // each reading all of U, sequential and on all cores.
        let u = system.system().coupling();
        let uf = faer::MatRef::from_column_major_slice(u.as_slice(), u.nrows(), r);
        let mut logits = faer::Mat::<f64>::zeros(u.nrows(), 1);
        let mut back = faer::Mat::<f64>::zeros(r, 1);
        let vf = faer::MatRef::from_column_major_slice(v.as_slice(), r, 1);
        for (name, p) in [("sequential", faer::Par::Seq), ("all cores", par)] {
            report(&format!("Uz, faer, {name}"), 0.0, 200, &mut || {
                faer::linalg::matmul::matmul(logits.as_mut(), faer::Accum::Replace, uf, vf, 1.0, p);
            });
            report(&format!("Uᵀw, faer, {name}"), 0.0, 200, &mut || {
                faer::linalg::matmul::matmul(
                    back.as_mut(),
                    faer::Accum::Replace,
                    uf.transpose(),
                    logits.as_ref(),
                    1.0,
                    p,
                );
            });
        }
        report(
            "curvature blocks at z (logits, softmax)",
            0.0,
            20,
            &mut || {
                std::hint::black_box(dynamics.curvature(z));
            },
        );
        let mut gram = DMatrix::zeros(r, r);
        let madds_gram = rows as f64 * rf * rf / 2.0;
        report(
            "UᵀHU = EᵀE (E filled + lower product + mirror)",
            madds_gram,
            5,
            &mut || {
                curvature.gram_into(&mut gram);
            },
        );
        let e = faer::Mat::<f64>::from_fn(rows, r, |i, j| ((i * 31 + j * 17) % 23) as f64 / 23.0);
        let mut out = faer::Mat::<f64>::zeros(r, r);
        report("EᵀE full product", 2.0 * madds_gram, 5, &mut || {
            faer::linalg::matmul::matmul(
                out.as_mut(),
                faer::Accum::Replace,
                e.transpose(),
                e.as_ref(),
                1.0,
                par,
            );
        });
        let s2 = dynamics.strengths_squared();
        let hessian = faer::Mat::<f64>::from_fn(r, r, |i, j| {
            gram[(i, j)] + if i == j { LAMBDA / s2[j] } else { 0.0 }
        });
        let mut llt = None;
        report("Cholesky (Mat::llt)", rf * rf * rf / 6.0, 5, &mut || {
            llt = Some(hessian.llt(faer::Side::Lower).expect("positive definite"));
        });
        let llt = llt.expect("factor");
        report("inverse (Llt::inverse)", rf * rf * rf / 3.0, 5, &mut || {
            use faer::linalg::solvers::DenseSolveCore;
            std::hint::black_box(llt.inverse());
        });
        let l = llt.L();
        let mut l_inv = faer::Mat::<f64>::zeros(r, r);
        let mut factor = hessian.clone();
        report("copy of the Hessian (r × r)", 0.0, 5, &mut || {
            factor.copy_from(&hessian);
        });
        cholesky_params(&hessian, &report);
        for (name, p) in [("all cores", par), ("sequential", faer::Par::Seq)] {
            use faer::dyn_stack::{MemBuffer, MemStack};
            use faer::linalg::cholesky::llt::factor;
            let mut mem = MemBuffer::new(factor::cholesky_in_place_scratch::<f64>(
                r,
                p,
                Default::default(),
            ));
            report(
                &format!("copy + Cholesky in place, {name}"),
                rf * rf * rf / 6.0,
                5,
                &mut || {
                    factor.copy_from(&hessian);
                    factor::cholesky_in_place(
                        factor.as_mut(),
                        Default::default(),
                        p,
                        MemStack::new(&mut mem),
                        Default::default(),
                    )
                    .expect("positive definite");
                },
            );
            report(
                &format!("EᵀE lower-triangular product, {name}"),
                madds_gram,
                5,
                &mut || {
                    tri_matmul(
                        out.as_mut(),
                        BlockStructure::TriangularLower,
                        faer::Accum::Replace,
                        e.transpose(),
                        BlockStructure::Rectangular,
                        e.as_ref(),
                        BlockStructure::Rectangular,
                        1.0,
                        p,
                    );
                },
            );
            report(
                &format!("triangular inverse L⁻¹, {name}"),
                rf * rf * rf / 6.0,
                5,
                &mut || {
                    faer::linalg::triangular_inverse::invert_lower_triangular(l_inv.as_mut(), l, p);
                },
            );
            report(
                &format!("L⁻ᵀL⁻¹ lower-triangular product, {name}"),
                rf * rf * rf / 6.0,
                5,
                &mut || {
                    tri_matmul(
                        out.as_mut(),
                        BlockStructure::TriangularLower,
                        faer::Accum::Replace,
                        l_inv.transpose(),
                        BlockStructure::TriangularUpper,
                        l_inv.as_ref(),
                        BlockStructure::TriangularLower,
                        1.0,
                        p,
                    );
                },
            );
            report(
                &format!("L⁻ᵀL⁻¹ as a full product, {name}"),
                rf * rf * rf,
                5,
                &mut || {
                    faer::linalg::matmul::matmul(
                        out.as_mut(),
                        faer::Accum::Replace,
                        l_inv.transpose(),
                        l_inv.as_ref(),
                        1.0,
                        p,
                    );
                },
            );
        }
    }
}

/// How [`fixed_point_units`] reports one timed piece: name, multiply–adds, calls, the call.
type Report<'a> = &'a dyn Fn(&str, f64, usize, &mut dyn FnMut());

/// faer's in-place Cholesky of the Hessian at z* (f64, and rounded to f32) on all cores with
/// its `LltParams` varied: block size × recursion threshold, the default (128, 64) first; wall,
/// CPU and GFLOP/s per setting, and the largest difference of the factor from the default's.
fn cholesky_params(hessian: &faer::Mat<f64>, report: Report) {
    fn sweep<T: faer::traits::ComplexField + Copy>(
        label: &str,
        hessian: &faer::Mat<T>,
        report: Report,
        gap: impl Fn(&faer::Mat<T>, &faer::Mat<T>) -> f64,
    ) {
        use faer::dyn_stack::{MemBuffer, MemStack};
        use faer::linalg::cholesky::llt::factor::{self, LltParams};
        let r = hessian.nrows();
        let par = faer::Par::rayon(0);
        let mut reference: Option<faer::Mat<T>> = None;
        for (block, threshold) in [
            (128, 64),
            (64, 32),
            (64, 64),
            (128, 32),
            (128, 128),
            (256, 64),
            (256, 128),
            (512, 64),
            (512, 128),
        ] {
            let mut spec: faer::Spec<LltParams, T> = Default::default();
            spec.block_size = block;
            spec.recursion_threshold = threshold;
            let mut mem = MemBuffer::new(factor::cholesky_in_place_scratch::<T>(r, par, spec));
            let mut l = hessian.clone();
            report(
                &format!(
                    "{label} Cholesky in place, block {block}, recursion threshold {threshold}"
                ),
                (r as f64).powi(3) / 6.0,
                5,
                &mut || {
                    l.copy_from(hessian);
                    factor::cholesky_in_place(
                        l.as_mut(),
                        Default::default(),
                        par,
                        MemStack::new(&mut mem),
                        spec,
                    )
                    .expect("positive definite");
                },
            );
            match &reference {
                None => reference = Some(l),
                Some(base) => println!("  max |ΔL| against (128, 64): {:.1e}", gap(&l, base)),
            }
        }
    }
    let lower_gap = |a: &faer::Mat<f64>, b: &faer::Mat<f64>| {
        let r = a.nrows();
        (0..r)
            .flat_map(|j| (j..r).map(move |i| (i, j)))
            .fold(0.0f64, |m, (i, j)| m.max((a[(i, j)] - b[(i, j)]).abs()))
    };
    sweep("f64", hessian, report, lower_gap);
    let single = faer::Mat::<f32>::from_fn(hessian.nrows(), hessian.ncols(), |i, j| {
        hessian[(i, j)] as f32
    });
    sweep("f32", &single, report, |a, b| {
        let r = a.nrows();
        (0..r)
            .flat_map(|j| (j..r).map(move |i| (i, j)))
            .fold(0.0f64, |m, (i, j)| {
                m.max(f64::from((a[(i, j)] - b[(i, j)]).abs()))
            })
    });
}
