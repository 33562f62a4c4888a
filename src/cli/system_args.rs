//! The system options shared by every subcommand, and their conversion into a validated
//! [`FeatureSystem`].

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use clap::Args;
use gstarve_core::simulation::RawFeatures;
use gstarve_core::systems::{
    read_matrix, read_vector, FeatureSystem, Spectrum, Truncation, DEFAULT_KERNEL_STRENGTH_FLOOR,
};
use nalgebra::DVector;

/// Where the feature system comes from (exactly one source).
#[derive(Args, Debug, Clone)]
pub struct SystemArgs {
    /// System file (JSON, or TOML for *.toml): {"strengths": [...], "u": [[...], ...]}; or a NumPy archive *.npz of the arrays strengths, u (and v, z0), e.g. np.savez(FILE, strengths=s, u=U).
    #[arg(long, value_name = "FILE", help_heading = "System")]
    pub system: Option<PathBuf>,
    /// Strengths s₁,s₂,… With --coupling δ: the two-feature rotation family U(δ) of docs/theory.md
    /// §5.4; alone: the decoupled system U = I.
    #[arg(
        long,
        value_delimiter = ',',
        allow_negative_numbers = true,
        value_name = "S1,S2,..",
        help_heading = "System"
    )]
    pub strengths: Option<Vec<f64>>,
    /// Coupling δ of the rotation family (needs two --strengths).
    #[arg(
        long,
        allow_negative_numbers = true,
        value_name = "DELTA",
        requires = "strengths",
        help_heading = "System"
    )]
    pub coupling: Option<f64>,
    /// Features Φ (n rows × p columns, e.g. per-example Jacobians), as .npy (float64 or
    /// float32, C or Fortran order) or CSV; needs --labels. The system is the SVD of YΦ
    /// (docs/theory.md §1.2).
    #[arg(
        long,
        value_name = "PHI.npy|csv",
        requires = "labels",
        help_heading = "System"
    )]
    pub features: Option<PathBuf>,
    /// An unsigned NTK Gram matrix Θ (n × n, symmetric positive semi-definite) as .npy or CSV;
    /// needs --labels. The system is the eigendecomposition of YΘY (docs/theory.md §8.6).
    #[arg(
        long,
        value_name = "K.npy|csv",
        requires = "labels",
        help_heading = "System"
    )]
    pub kernel: Option<PathBuf>,
    /// Labels y for --features or --kernel (one per example, ±1 or 0/1), as .npy or CSV.
    #[arg(long, value_name = "Y.npy|csv", help_heading = "System")]
    pub labels: Option<PathBuf>,
    /// Drop features whose strength is negligible, s_j² ≤ FLOOR·s₁² (docs/theory.md §8.6); their
    /// count and share of Σs² are reported. Default for --kernel 1e-12 (an eigensolver resolves
    /// s² to about 1e-16·s₁²); other sources keep every feature unless it is given.
    #[arg(
        long,
        value_name = "FLOOR",
        allow_negative_numbers = true,
        help_heading = "System"
    )]
    pub strength_floor: Option<f64>,
    /// A random system with N examples and features: Haar coupling, geometric spectrum.
    #[arg(long, value_name = "N", help_heading = "System")]
    pub random: Option<usize>,
    /// Keep only the top R features (largest strengths; docs/theory.md §8.7); the tail's count
    /// and share of Σs² are reported as dropped. Never forms an n × n matrix when R ≪ n:
    /// --random N --rank R draws an N × R Haar coupling directly (the first R columns of the
    /// N × N one for the same seed) with the R largest strengths of the spectrum; --features
    /// takes a partial SVD of YΦ, --kernel a partial eigendecomposition of YΘY. Needs
    /// 1 ≤ R ≤ n (the examples); a --random system also needs N·R ≤ 4·10⁸.
    #[arg(long, value_name = "R", help_heading = "System")]
    pub rank: Option<usize>,
    /// Seed of the random system.
    #[arg(long, default_value_t = 0, help_heading = "System")]
    pub seed: u64,
    /// Spectrum of the random system, FROM:TO (geometric, s₁ = FROM, s_n = TO).
    #[arg(
        long,
        default_value = "10:0.1",
        value_name = "FROM:TO",
        help_heading = "System"
    )]
    pub spectrum: String,
}

/// A system and, when it came from features, the raw features.
pub struct LoadedSystem {
    pub system: FeatureSystem,
    pub raw: Option<RawFeatures>,
    /// The features dropped as negligible (--kernel, or --strength-floor).
    pub truncation: Option<Truncation>,
    /// Initial responses z(0) stored in a system file (e.g. by `gstarve network`).
    pub initial: Option<DVector<f64>>,
}

impl SystemArgs {
    /// Whether a system source was given.
    pub fn given(&self) -> bool {
        self.sources() > 0
    }

    /// Number of sources given.
    fn sources(&self) -> usize {
        [
            self.system.is_some(),
            self.strengths.is_some(),
            self.features.is_some(),
            self.kernel.is_some(),
            self.random.is_some(),
        ]
        .iter()
        .filter(|&&b| b)
        .count()
    }

    /// Build the validated system, without its negligible features when a floor applies.
    /// `default` is used when no source was given.
    pub fn load_or(
        &self,
        default: impl FnOnce() -> gstarve_core::Result<FeatureSystem>,
    ) -> Result<LoadedSystem> {
        if self.labels.is_some() && self.features.is_none() && self.kernel.is_none() {
            bail!("--labels goes with --features or --kernel");
        }
        let mut loaded = self.load_source(default)?;
        if let (Some(rank), None) = (self.rank, loaded.truncation) {
            check_rank(rank, loaded.system.examples())?;
            let (system, truncation) = loaded.system.keep_top(rank)?;
            if truncation.dropped_features > 0 && loaded.initial.is_some() {
                bail!("--rank {rank} would drop features of a system file that stores z(0)");
            }
            loaded.system = system;
            loaded.truncation = Some(truncation);
        }
        let floor_pending = self.kernel.is_none()
            && loaded
                .truncation
                .is_none_or(|t| t.strength_floor == 0.0 && t.rank.is_some());
        if let (Some(floor), true) = (self.strength_floor, floor_pending) {
            let (system, truncation) = loaded.system.drop_negligible(floor)?;
            if truncation.dropped_features > 0 && loaded.initial.is_some() {
                bail!("--strength-floor would drop features of a system file that stores z(0)");
            }
            loaded.system = system;
            loaded.truncation = Some(match loaded.truncation {
                // Both: the floor's share is of what the rank kept.
                Some(t) => Truncation {
                    dropped_features: t.dropped_features + truncation.dropped_features,
                    dropped_strength_share: t.dropped_strength_share
                        + (1.0 - t.dropped_strength_share) * truncation.dropped_strength_share,
                    strength_floor: floor,
                    rank: t.rank,
                },
                None => truncation,
            });
        }
        Ok(loaded)
    }

    fn load_source(
        &self,
        default: impl FnOnce() -> gstarve_core::Result<FeatureSystem>,
    ) -> Result<LoadedSystem> {
        match self.sources() {
            0 => {
                return Ok(LoadedSystem {
                    system: default()?,
                    raw: None,
                    truncation: None,
                    initial: None,
                })
            }
            1 => {}
            _ => bail!("give exactly one system source: --system, --strengths, --features/--labels, --kernel/--labels or --random"),
        }
        if let Some(path) = &self.system {
            let (system, initial) = FeatureSystem::load_with_initial(path)?;
            return Ok(LoadedSystem {
                system,
                raw: None,
                truncation: None,
                initial,
            });
        }
        if let Some(s) = &self.strengths {
            let system = match self.coupling {
                Some(delta) => {
                    if s.len() != 2 {
                        bail!(
                            "--coupling δ defines the two-feature rotation family: it needs exactly 2 strengths, got {}",
                            s.len()
                        );
                    }
                    FeatureSystem::rotation(s[0], s[1], delta)?
                }
                None => FeatureSystem::decoupled(s)?,
            };
            return Ok(LoadedSystem {
                system,
                raw: None,
                truncation: None,
                initial: None,
            });
        }
        if let (Some(phi_path), Some(y_path)) = (&self.features, &self.labels) {
            let phi = read_matrix(phi_path)?;
            let labels = read_vector(y_path)?;
            let (system, truncation) = match self.rank {
                Some(rank) => {
                    check_rank(rank, phi.nrows())?;
                    let (system, t) = FeatureSystem::from_features_top(&phi, &labels, Some(rank))?;
                    (system, Some(t))
                }
                None => (FeatureSystem::from_features(&phi, &labels)?, None),
            };
            return Ok(LoadedSystem {
                system,
                raw: Some(RawFeatures { phi, labels }),
                truncation,
                initial: None,
            });
        }
        if let (Some(k_path), Some(y_path)) = (&self.kernel, &self.labels) {
            let kernel = read_matrix(k_path)?;
            let labels = read_vector(y_path)?;
            let floor = self.strength_floor.unwrap_or(DEFAULT_KERNEL_STRENGTH_FLOOR);
            if let Some(rank) = self.rank {
                check_rank(rank, kernel.nrows())?;
            }
            let (system, truncation) =
                FeatureSystem::from_kernel_top(&kernel, &labels, floor, self.rank)?;
            return Ok(LoadedSystem {
                system,
                raw: None,
                truncation: Some(truncation),
                initial: None,
            });
        }
        if let Some(n) = self.random {
            let spectrum = self.parse_spectrum()?;
            let (system, truncation) = match self.rank {
                Some(rank) => {
                    check_rank(rank, n)?;
                    let (system, t) = FeatureSystem::random_top(n, rank, spectrum, self.seed)?;
                    (system, Some(t))
                }
                None => (FeatureSystem::random(n, spectrum, self.seed)?, None),
            };
            return Ok(LoadedSystem {
                system,
                raw: None,
                truncation,
                initial: None,
            });
        }
        bail!("no system source given")
    }

    fn parse_spectrum(&self) -> Result<Spectrum> {
        let (a, b) = self.spectrum.split_once(':').with_context(|| {
            format!(
                "--spectrum '{}' must be FROM:TO, e.g. 10:0.1",
                self.spectrum
            )
        })?;
        let parse = |t: &str| {
            t.trim()
                .parse::<f64>()
                .with_context(|| format!("--spectrum: '{t}' is not a number"))
        };
        Ok(Spectrum::Geometric {
            from: parse(a)?,
            to: parse(b)?,
        })
    }
}

/// --rank R needs 1 ≤ R ≤ n, the number of examples.
fn check_rank(rank: usize, examples: usize) -> Result<()> {
    if rank == 0 || rank > examples {
        bail!("--rank {rank} is invalid: the number of features kept must be between 1 and n = {examples} (the examples)");
    }
    Ok(())
}
