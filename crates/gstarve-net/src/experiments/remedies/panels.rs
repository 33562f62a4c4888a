//! The panels of the remedies experiment: what each changes, its name and label, and which
//! implementation trains it.

use crate::deep::MlpOptions;
use gstarve_core::error::{Error, InputError, Result};

/// One panel's change to the baseline run.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Remedy {
    /// The baseline: SGD, no regularisation.
    None,
    /// Weight decay wd (SGD's, on every parameter).
    WeightDecay(f64),
    /// Train this many times longer.
    Longer(usize),
    /// Adam at this learning rate (PyTorch's defaults otherwise).
    Adam(f64),
    /// The data rotated counter-clockwise by this angle in degrees (the authors rotate by 45°
    /// clockwise: −45).
    Rotation(f64),
    /// Dropout with this drop probability on the first layer's pre-activation.
    Dropout(f64),
    /// BatchNorm on the first layer's pre-activation.
    BatchNorm,
    /// A deeper network: this many linear layers of this width.
    Deeper {
        /// Linear layers L.
        layers: usize,
        /// Hidden width.
        width: usize,
    },
    /// Spectral Decoupling with this coefficient on mean ŷ².
    SpectralDecoupling(f64),
}

/// Which implementation trains a panel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Engine {
    /// The hand-written two-layer network ([`crate::network::train`], the NTK bridge).
    HandWritten,
    /// The hand-written two-layer MLP with Adam, dropout and BatchNorm
    /// ([`crate::deep::TwoLayerMlp`], the candle network's two-layer case).
    HandWrittenMlp,
    /// The candle network ([`crate::deep::train_mlp`]).
    Candle,
}

impl Engine {
    /// `hand-written`, `hand-written-mlp` or `candle`.
    pub fn name(self) -> &'static str {
        match self {
            Self::HandWritten => "hand-written",
            Self::HandWrittenMlp => "hand-written-mlp",
            Self::Candle => "candle",
        }
    }
}

fn unicode_number(v: f64) -> String {
    // 1e-4 → 10⁻⁴, 3e-3 → 3·10⁻³, 0.01 → 0.01.
    if v != 0.0 && v.abs() < 1e-2 {
        let exponent = v.abs().log10().floor() as i32;
        let mantissa = v / 10f64.powi(exponent);
        let sup: String = exponent
            .to_string()
            .chars()
            .map(|c| match c {
                '-' => '⁻',
                d => ['⁰', '¹', '²', '³', '⁴', '⁵', '⁶', '⁷', '⁸', '⁹'][d as usize - '0' as usize],
            })
            .collect();
        if (mantissa - 1.0).abs() < 1e-9 {
            format!("10{sup}")
        } else {
            format!("{}·10{sup}", (mantissa * 1e6).round() / 1e6)
        }
    } else {
        format!("{v}")
    }
}

impl Remedy {
    /// The paper's ten panels, in its order: none; weight decay 0.01; 10× longer; Adam at
    /// 10⁻⁴ and 3·10⁻³; the data rotated 45° (clockwise, as the authors' `X @ R`); dropout 0.7;
    /// BatchNorm; 5 layers of width 500; SD 0.003.
    pub fn paper() -> Vec<Self> {
        vec![
            Self::None,
            Self::WeightDecay(0.01),
            Self::Longer(10),
            Self::Adam(1e-4),
            Self::Adam(3e-3),
            Self::Rotation(-45.0),
            Self::Dropout(0.7),
            Self::BatchNorm,
            Self::Deeper {
                layers: 5,
                width: 500,
            },
            Self::SpectralDecoupling(0.003),
        ]
    }

    /// A short name for files and CSV (`none`, `weight-decay`, `adam-0.0001`, …).
    pub fn name(&self) -> String {
        match *self {
            Self::None => "none".into(),
            Self::WeightDecay(wd) => format!("weight-decay-{wd}"),
            Self::Longer(k) => format!("longer-{k}x"),
            Self::Adam(lr) => format!("adam-{lr}"),
            Self::Rotation(a) => format!("rotation{a:+}"),
            Self::Dropout(p) => format!("dropout-{p}"),
            Self::BatchNorm => "batchnorm".into(),
            Self::Deeper { layers, width } => format!("deeper-{layers}x{width}"),
            Self::SpectralDecoupling(c) => format!("sd-{c}"),
        }
    }

    /// A human label for the panel title.
    pub fn label(&self) -> String {
        match *self {
            Self::None => "no remedy (SGD)".into(),
            Self::WeightDecay(wd) => format!("weight decay {}", unicode_number(wd)),
            Self::Longer(k) => format!("{k}× longer training"),
            Self::Adam(lr) => format!("Adam lr {}", unicode_number(lr)),
            Self::Rotation(a) if a < 0.0 => format!("data rotated {}° clockwise", -a),
            Self::Rotation(a) => format!("data rotated {a}°"),
            Self::Dropout(p) => format!("dropout {p} (first layer)"),
            Self::BatchNorm => "BatchNorm (first layer)".into(),
            Self::Deeper { layers, width } => format!("{layers} layers of width {width}"),
            Self::SpectralDecoupling(c) => format!("SD {}·mean(ŷ²)", unicode_number(c)),
        }
    }

    /// The implementation that trains it.
    pub fn engine(&self) -> Engine {
        match self {
            Self::Adam(_) | Self::Dropout(_) | Self::BatchNorm => Engine::HandWrittenMlp,
            Self::Deeper { .. } => Engine::Candle,
            _ => Engine::HandWritten,
        }
    }

    /// The rotation of the data in degrees (counter-clockwise; 0 unless [`Remedy::Rotation`]).
    pub fn rotation(&self) -> f64 {
        match *self {
            Self::Rotation(a) => a,
            _ => 0.0,
        }
    }

    pub(super) fn validate(&self) -> Result<()> {
        let invalid = |name, value, rule| {
            Err(Error::Input(InputError::InvalidParameter {
                name,
                value,
                rule,
            }))
        };
        match *self {
            Self::WeightDecay(wd) if !(wd.is_finite() && wd >= 0.0) => invalid(
                "weight_decay",
                wd,
                "the weight decay must be finite and ≥ 0",
            ),
            Self::Longer(k) if !(1..=1000).contains(&k) => {
                invalid("longer", k as f64, "train between 1 and 1000 times longer")
            }
            Self::Adam(lr) if !(lr.is_finite() && lr > 0.0) => {
                invalid("adam_lr", lr, "Adam's learning rate must be finite and > 0")
            }
            Self::Rotation(a) if !a.is_finite() => {
                invalid("rotation", a, "the rotation must be finite")
            }
            Self::Dropout(p) if !(p.is_finite() && (0.0..1.0).contains(&p)) => {
                invalid("dropout", p, "the drop probability must be in [0, 1)")
            }
            Self::Deeper { layers, width } => MlpOptions {
                layers,
                width,
                ..Default::default()
            }
            .validate(),
            Self::SpectralDecoupling(c) if !(c.is_finite() && c > 0.0) => {
                invalid("sd", c, "the SD coefficient must be finite and > 0")
            }
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_and_names_are_the_papers() {
        let labels: Vec<String> = Remedy::paper().iter().map(Remedy::label).collect();
        assert_eq!(labels[3], "Adam lr 10⁻⁴");
        assert_eq!(labels[4], "Adam lr 3·10⁻³");
        assert_eq!(labels[9], "SD 3·10⁻³·mean(ŷ²)");
        assert_eq!(labels[5], "data rotated 45° clockwise");
        let engines: Vec<&str> = Remedy::paper().iter().map(|r| r.engine().name()).collect();
        assert_eq!(
            engines.iter().filter(|e| **e == "hand-written-mlp").count(),
            4
        );
        assert_eq!(engines.iter().filter(|e| **e == "candle").count(), 1);
    }
}
