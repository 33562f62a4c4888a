//! The OOD network's feature system at initialisation (docs/theory.md §1.2) and where the
//! colour sits in it.
//!
//! **Jacobian.** Φ_ik = ∂ŷ(x_i)/∂θ_k of f(x) = w₃ᵀa₂ + b₃, a₂ = relu(W₂a₁ + b₂),
//! a₁ = relu(W₁x + b₁), in closed form: ∂f/∂w₃ = a₂, ∂f/∂b₃ = 1, δ₂ = w₃ ⊙ 1[z₂ > 0],
//! ∂f/∂W₂ = δ₂a₁ᵀ, ∂f/∂b₂ = δ₂, δ₁ = (W₂ᵀδ₂) ⊙ 1[z₁ > 0], ∂f/∂W₁ = δ₁xᵀ, ∂f/∂b₁ = δ₁ (checked
//! against candle's backward pass). Rows: the first `feature_examples` of restart 0's pooled
//! training set (a uniformly shuffled subsample of both environments).
//!
//! **Which feature is the colour.** Feature j moves the outputs along Φv_j = s_j·Y u_j, so the
//! n-vector g_j = Y u_j says what the feature responds to. Its *colour share* is the squared
//! correlation of g_j with the colour channel c_i ∈ {0, 1}; its *digit share* the part of the
//! variance of g_j explained by the digit (η² of the ten digit classes); its *shape share* the
//! squared correlation with 1[digit < 5] (the label before the flip); its *mean share*
//! ḡ_j²/mean(g_j²) (a feature that moves every output alike). The colour feature is the feature
//! of largest colour share; the digit features are the strongest others whose digit share
//! exceeds their colour share.
//!
//! **Starvation.** The starvation matrix E_ji = ∂log|z_j*|/∂log s_i² (docs/theory.md §5.3) of the
//! system at the steady state of the logistic loss with L2 (λ = `starvation_lambda`): E_dc < 0
//! says a stronger colour feature lowers the digit feature d's response. With r = n the SD
//! steady state does not depend on S (docs/theory.md §4.2), so under SD the same entries are 0
//! (gstarve-core returns them as exact zeros: reported beside the L2 entries, not a check).

use nalgebra::{DMatrix, DVector};

use super::{MlpWeights, OodSpec};
use crate::data::ColouredDigits;
use gstarve_core::error::Result;
use gstarve_core::model::{Loss, Regulariser};
use gstarve_core::sweeps::starvation_matrix_of;
use gstarve_core::systems::FeatureSystem;

/// What one feature of the system responds to.
#[derive(Clone, Debug, PartialEq)]
pub struct FeatureShare {
    /// Feature index j, 1-based (descending strength).
    pub feature: usize,
    /// Strength s_j.
    pub strength: f64,
    /// corr²(g_j, colour).
    pub colour_share: f64,
    /// η² of g_j over the ten digits.
    pub digit_share: f64,
    /// corr²(g_j, 1[digit < 5]).
    pub shape_share: f64,
    /// ḡ_j² / mean(g_j²).
    pub mean_share: f64,
}

/// The colour feature against the digit features in the network's feature system.
#[derive(Clone, Debug, PartialEq)]
pub struct ColourStarvation {
    /// Examples n (rows of Φ).
    pub examples: usize,
    /// Parameters p (columns of Φ).
    pub parameters: usize,
    /// The leading features' shares (up to 20, and the colour feature).
    pub shares: Vec<FeatureShare>,
    /// The colour feature (1-based).
    pub colour_feature: usize,
    /// The digit features (1-based, strongest first).
    pub digit_features: Vec<usize>,
    /// s_colour / s_d for each digit feature.
    pub strength_ratios: Vec<f64>,
    /// λ of the L2 steady state.
    pub lambda: f64,
    /// E_dc under L2: the colour strength's effect on digit feature d's response.
    pub colour_on_digit: Vec<Option<f64>>,
    /// E_cd under L2: digit feature d's strength's effect on the colour response.
    pub digit_on_colour: Vec<Option<f64>>,
    /// Steady responses z_c*, z_d* under L2 (colour first).
    pub responses: Vec<f64>,
    /// max |E| over the same entries under SD at the same λ (0 up to rounding when r = n; NaN
    /// if one is masked).
    pub sd_max_abs: f64,
    /// Largest |Φ − candle's gradient| / max|Φ| over the first two rows (f32 against f64).
    pub jacobian_check: f64,
}

/// Φ of `w` at the rows of `x` (n × p), in the parameter order W₁, b₁, W₂, b₂, w₃, b₃.
pub fn jacobian(w: &MlpWeights, x: &DMatrix<f64>) -> DMatrix<f64> {
    let (h, d) = (w.width, w.inputs);
    let w1 = DMatrix::from_row_slice(h, d, &w.w1);
    let w2 = DMatrix::from_row_slice(h, h, &w.w2);
    let w3 = DVector::from_column_slice(&w.w3);
    let (b1, b2) = (
        DVector::from_column_slice(&w.b1),
        DVector::from_column_slice(&w.b2),
    );
    let p = w.parameters();
    let mut phi = DMatrix::zeros(x.nrows(), p);
    for i in 0..x.nrows() {
        let xi = x.row(i).transpose();
        let z1 = &w1 * &xi + &b1;
        let a1 = z1.map(|v| v.max(0.0));
        let z2 = &w2 * &a1 + &b2;
        let a2 = z2.map(|v| v.max(0.0));
        let delta2 = w3.zip_map(&z2, |w, z| if z > 0.0 { w } else { 0.0 });
        let back = w2.tr_mul(&delta2);
        let delta1 = back.zip_map(&z1, |g, z| if z > 0.0 { g } else { 0.0 });
        let mut k = 0;
        let mut put = |v: f64| {
            phi[(i, k)] = v;
            k += 1;
        };
        for r in 0..h {
            for c in 0..d {
                put(delta1[r] * xi[c]);
            }
        }
        delta1.iter().for_each(|&v| put(v));
        for r in 0..h {
            for c in 0..h {
                put(delta2[r] * a1[c]);
            }
        }
        delta2.iter().for_each(|&v| put(v));
        a2.iter().for_each(|&v| put(v));
        put(1.0);
    }
    phi
}

fn correlation_squared(g: &[f64], c: &[f64]) -> f64 {
    let n = g.len() as f64;
    let (mg, mc) = (g.iter().sum::<f64>() / n, c.iter().sum::<f64>() / n);
    let (mut sgc, mut sgg, mut scc) = (0.0, 0.0, 0.0);
    for (a, b) in g.iter().zip(c) {
        sgc += (a - mg) * (b - mc);
        sgg += (a - mg).powi(2);
        scc += (b - mc).powi(2);
    }
    if sgg > 0.0 && scc > 0.0 {
        sgc * sgc / (sgg * scc)
    } else {
        0.0
    }
}

fn between_class_share(g: &[f64], classes: &[u8]) -> f64 {
    let n = g.len() as f64;
    let mean = g.iter().sum::<f64>() / n;
    let total: f64 = g.iter().map(|v| (v - mean).powi(2)).sum();
    let mut sums = [0.0; 10];
    let mut counts = [0.0; 10];
    for (&v, &k) in g.iter().zip(classes) {
        sums[k as usize] += v;
        counts[k as usize] += 1.0;
    }
    let between: f64 = (0..10)
        .filter(|&k| counts[k] > 0.0)
        .map(|k| counts[k] * (sums[k] / counts[k] - mean).powi(2))
        .sum();
    if total > 0.0 {
        between / total
    } else {
        0.0
    }
}

/// The analysis of the module documentation, on restart 0's network and environments.
pub fn colour_starvation(
    weights: &MlpWeights,
    envs: &ColouredDigits,
    spec: &OodSpec,
) -> Result<ColourStarvation> {
    // The first rows of the pooled training set, environment after environment, interleaved
    // so that both environments contribute alike.
    let n = spec.feature_examples;
    let k = envs.train.len();
    let rows: Vec<(usize, usize)> = (0..)
        .flat_map(|i| (0..k).map(move |e| (e, i)))
        .filter(|&(e, i)| i < envs.train[e].len())
        .take(n)
        .collect();
    let x = DMatrix::from_fn(n, weights.inputs, |r, c| {
        let (e, i) = rows[r];
        envs.train[e].inputs[(i, c)]
    });
    let labels: Vec<f64> = rows.iter().map(|&(e, i)| envs.train[e].labels[i]).collect();
    let colours: Vec<f64> = rows
        .iter()
        .map(|&(e, i)| envs.train[e].colours[i] as f64)
        .collect();
    let digits: Vec<u8> = rows.iter().map(|&(e, i)| envs.train[e].digits[i]).collect();
    let shape: Vec<f64> = digits.iter().map(|&d| f64::from(u8::from(d < 5))).collect();
    let phi = jacobian(weights, &x);
    let jacobian_check = check_against_candle(weights, &x, &phi)?;
    let system = FeatureSystem::from_features(&phi, &labels)?;
    let u = system.coupling();
    let s = system.strengths();
    let r = system.rank();
    let share = |j: usize| {
        let g: Vec<f64> = (0..n)
            .map(|i| (2.0 * labels[i] - 1.0) * u[(i, j)])
            .collect();
        let mean = g.iter().sum::<f64>() / n as f64;
        let power = g.iter().map(|v| v * v).sum::<f64>() / n as f64;
        FeatureShare {
            feature: j + 1,
            strength: s[j],
            colour_share: correlation_squared(&g, &colours),
            digit_share: between_class_share(&g, &digits),
            shape_share: correlation_squared(&g, &shape),
            mean_share: if power > 0.0 {
                mean * mean / power
            } else {
                0.0
            },
        }
    };
    let all: Vec<FeatureShare> = (0..r).map(share).collect();
    let colour = (0..r)
        .max_by(|&a, &b| all[a].colour_share.total_cmp(&all[b].colour_share))
        .unwrap_or(0);
    let digit: Vec<usize> = (0..r)
        .filter(|&j| j != colour && all[j].digit_share > all[j].colour_share)
        .take(spec.digit_features)
        .collect();
    let l2 = starvation_matrix_of(
        &system,
        Loss::Logistic,
        Regulariser::L2 {
            lambda: spec.starvation_lambda,
        },
    )?;
    let sd = starvation_matrix_of(
        &system,
        Loss::Logistic,
        Regulariser::SpectralDecoupling {
            lambda: spec.starvation_lambda,
        },
    )?;
    // NaN when an entry is masked (a zero steady response): then there is no check.
    let sd_max_abs = digit
        .iter()
        .flat_map(|&d| [sd.elasticities[(d, colour)], sd.elasticities[(colour, d)]])
        .try_fold(0.0f64, |m, e| e.map(|e| m.max(e.abs())))
        .unwrap_or(f64::NAN);
    let mut shares: Vec<FeatureShare> = all.iter().take(20).cloned().collect();
    if colour >= 20 {
        shares.push(all[colour].clone());
    }
    Ok(ColourStarvation {
        examples: n,
        parameters: phi.ncols(),
        shares,
        colour_feature: colour + 1,
        digit_features: digit.iter().map(|d| d + 1).collect(),
        strength_ratios: digit.iter().map(|&d| s[colour] / s[d]).collect(),
        lambda: spec.starvation_lambda,
        colour_on_digit: digit
            .iter()
            .map(|&d| l2.elasticities[(d, colour)])
            .collect(),
        digit_on_colour: digit
            .iter()
            .map(|&d| l2.elasticities[(colour, d)])
            .collect(),
        responses: std::iter::once(colour)
            .chain(digit.iter().copied())
            .map(|j| l2.responses[j])
            .collect(),
        sd_max_abs,
        jacobian_check,
    })
}

/// max |Φ_ik − candle's ∂ŷ/∂θ_k| / max |Φ| over the first two rows.
fn check_against_candle(w: &MlpWeights, x: &DMatrix<f64>, phi: &DMatrix<f64>) -> Result<f64> {
    let mut worst: f64 = 0.0;
    for i in 0..x.nrows().min(2) {
        let row: Vec<f64> = x.row(i).iter().copied().collect();
        let (_, grad) = super::mlp::output_gradient(w, &row)?;
        let scale = phi.row(i).amax().max(f64::MIN_POSITIVE);
        for (a, b) in phi.row(i).iter().zip(&grad) {
            worst = worst.max((a - b).abs() / scale);
        }
    }
    Ok(worst)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jacobian_matches_finite_differences_and_candle() {
        let mut w = MlpWeights::xavier(5, 4, 11);
        // Non-zero biases so that every bias column is exercised.
        w.b1 = vec![0.1, -0.2, 0.3, 0.05];
        w.b2 = vec![-0.1, 0.2, 0.1, 0.3];
        w.b3 = vec![0.4];
        let x = DMatrix::from_row_slice(2, 5, &[0.2, 0.9, 0.0, 0.5, 1.0, 0.7, 0.1, 0.3, 0.0, 0.4]);
        let phi = jacobian(&w, &x);
        assert_eq!(phi.ncols(), w.parameters());
        let f = |w: &MlpWeights, i: usize| super::super::mlp::output_gradient(w, &row(&x, i));
        // Central differences of the f32 output in f64 parameters are too coarse; compare with
        // f64 forward passes instead.
        for i in 0..2 {
            for k in 0..w.parameters() {
                let h = 1e-6;
                let (plus, minus) = (perturbed(&w, k, h), perturbed(&w, k, -h));
                let fd = (forward(&plus, &row(&x, i)) - forward(&minus, &row(&x, i))) / (2.0 * h);
                assert!(
                    (fd - phi[(i, k)]).abs() < 1e-7,
                    "row {i} parameter {k}: {fd} vs {}",
                    phi[(i, k)]
                );
            }
            let (out, grad) = f(&w, i).unwrap();
            assert!((out - forward(&w, &row(&x, i))).abs() < 1e-6);
            for (a, b) in phi.row(i).iter().zip(&grad) {
                assert!((a - b).abs() < 1e-6, "{a} vs {b}");
            }
        }
        assert!(check_against_candle(&w, &x, &phi).unwrap() < 1e-6);
    }

    fn row(x: &DMatrix<f64>, i: usize) -> Vec<f64> {
        x.row(i).iter().copied().collect()
    }

    fn perturbed(w: &MlpWeights, k: usize, h: f64) -> MlpWeights {
        let mut w = w.clone();
        let mut k = k;
        for part in [
            &mut w.w1, &mut w.b1, &mut w.w2, &mut w.b2, &mut w.w3, &mut w.b3,
        ] {
            if k < part.len() {
                part[k] += h;
                break;
            }
            k -= part.len();
        }
        w
    }

    fn forward(w: &MlpWeights, x: &[f64]) -> f64 {
        let (h, d) = (w.width, w.inputs);
        let a1: Vec<f64> = (0..h)
            .map(|r| (w.b1[r] + (0..d).map(|c| w.w1[r * d + c] * x[c]).sum::<f64>()).max(0.0))
            .collect();
        let a2: Vec<f64> = (0..h)
            .map(|r| (w.b2[r] + (0..h).map(|c| w.w2[r * h + c] * a1[c]).sum::<f64>()).max(0.0))
            .collect();
        w.b3[0] + (0..h).map(|c| w.w3[c] * a2[c]).sum::<f64>()
    }

    #[test]
    fn shares_are_correlations() {
        let g = [1.0, 2.0, 3.0, 4.0];
        assert!((correlation_squared(&g, &[0.0, 0.0, 1.0, 1.0]) - 0.8).abs() < 1e-12);
        assert_eq!(correlation_squared(&g, &[1.0; 4]), 0.0);
        // Two classes {1, 2} and {3, 4}: between 4·1² = 4 of total 5.
        assert!((between_class_share(&g, &[0, 0, 1, 1]) - 0.8).abs() < 1e-12);
    }
}
