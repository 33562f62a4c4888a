//! The system options shared by every subcommand, and their conversion into a validated
//! [`FeatureSystem`].

use std::path::PathBuf;

use anyhow::{anyhow, bail, Result};
use clap::Args;
use gstarve_core::error::InputError;
use gstarve_core::simulation::RawFeatures;
use gstarve_core::systems::{
    class_labels, read_matrix, read_vector, FeatureSystem, MulticlassSystem, Spectrum, Truncation,
    DEFAULT_KERNEL_STRENGTH_FLOOR,
};
use nalgebra::DVector;

/// Where the feature system comes from (exactly one source).
#[derive(Args, Debug, Clone)]
pub struct SystemArgs {
    /// System file (JSON, or TOML for *.toml): {"strengths": [...], "u": [[...], ...]}; or a NumPy archive *.npz of the arrays strengths, u (and v, z0), e.g. np.savez(FILE, strengths=s, u=U). `simulate` also reads a file of many systems: a JSON list of them, or an *.npz whose arrays have a leading batch axis (one result per system).
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
    /// (docs/theory.md §1.2). CSV: comma-separated, one row per line; a UTF-8 BOM is ignored; the first row is a header only if every field is a name (a first row mixing names and numbers is refused); empty and # lines are skipped.
    #[arg(
        long,
        value_name = "PHI.npy|csv",
        requires = "labels",
        help_heading = "System"
    )]
    pub features: Option<PathBuf>,
    /// An unsigned NTK Gram matrix Θ (n × n, symmetric positive semi-definite) as .npy or CSV;
    /// needs --labels. The system is the eigendecomposition of YΘY (docs/theory.md §8.6).
    /// CSV as for --features.
    #[arg(
        long,
        value_name = "K.npy|csv",
        requires = "labels",
        help_heading = "System"
    )]
    pub kernel: Option<PathBuf>,
    /// Labels y for --features or --kernel (one per example), as .npy or CSV (one column or one
    /// row; CSV as for --features): ±1 or 0/1 for a binary system; integers 0..c−1 for a
    /// multi-class softmax system (docs/theory.md §9.1), which any label ≥ 2 (or --classes) makes.
    #[arg(long, value_name = "Y.npy|csv", help_heading = "System")]
    pub labels: Option<PathBuf>,
    /// Number of classes c ≥ 2 of a multi-class (softmax) system built from --features or
    /// --kernel with --labels in 0..c−1. Without it, labels all in {−1, 0, 1} are binary and
    /// otherwise c = (largest label) + 1. The features (kernel) have n·c rows (example-major:
    /// row i·c + k is output k of example i) or n rows, shared by the c outputs (⊗ I_c).
    #[arg(long, value_name = "C", requires = "labels", help_heading = "System")]
    pub classes: Option<usize>,
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
    /// The classes and labels of a multi-class (softmax) system, whose coupling `system` has
    /// n·c rows (docs/theory.md §9.1); `None` for a binary system.
    pub multiclass: Option<MulticlassSystem>,
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

    /// Build the validated binary system, without its negligible features when a floor
    /// applies. `default` is used when no source was given. A multi-class system is refused
    /// (the commands that take one call [`Self::load_any_or`]).
    pub fn load_or(
        &self,
        default: impl FnOnce() -> gstarve_core::Result<FeatureSystem>,
    ) -> Result<LoadedSystem> {
        // Refused before any warning about its classes: one line on stderr.
        let loaded = self.load_truncated(default)?;
        if let Some(mc) = &loaded.multiclass {
            bail!(
                "this command does not support multi-class systems yet ({} classes; \
                 docs/theory.md §9: simulate, fixed-point, check, system, phase-plane, \
                 responses and starvation-matrix do)",
                mc.classes()
            );
        }
        Ok(loaded)
    }

    /// [`Self::load_or`], binary or multi-class: a multi-class system's truncation keeps its
    /// labels, and a class with no examples gets a warning on stderr.
    pub fn load_any_or(
        &self,
        default: impl FnOnce() -> gstarve_core::Result<FeatureSystem>,
    ) -> Result<LoadedSystem> {
        let mut loaded = self.load_truncated(default)?;
        if let Some(mc) = &loaded.multiclass {
            let mc = mc.with_system(loaded.system.clone())?;
            for k in mc.empty_classes() {
                eprintln!(
                    "gstarve: warning: class {k} has no examples (of {} classes): its outputs are \
                     only pushed down",
                    mc.classes()
                );
            }
            loaded.multiclass = Some(mc);
        }
        Ok(loaded)
    }

    fn load_truncated(
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
                Some(t) => t.then(truncation),
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
                    multiclass: None,
                })
            }
            1 => {}
            _ => bail!("give exactly one system source: --system, --strengths, --features/--labels, --kernel/--labels or --random"),
        }
        if self.classes.is_some() && self.features.is_none() && self.kernel.is_none() {
            bail!("--classes goes with --features or --kernel and --labels (a system file states its own \"classes\")");
        }
        if let Some(path) = &self.system {
            if let Some((mc, initial)) = MulticlassSystem::load_if_multiclass(path)? {
                return Ok(LoadedSystem {
                    system: mc.system().clone(),
                    raw: None,
                    truncation: None,
                    initial,
                    multiclass: Some(mc),
                });
            }
            let (system, initial) = FeatureSystem::load_with_initial(path)?;
            return Ok(LoadedSystem {
                system,
                raw: None,
                truncation: None,
                initial,
                multiclass: None,
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
                multiclass: None,
            });
        }
        if let (Some(phi_path), Some(y_path)) = (&self.features, &self.labels) {
            let phi = read_matrix(phi_path)?;
            let labels = read_vector(y_path)?;
            if let Some((classes, labels)) = class_labels(&labels, self.classes)? {
                let mut mc = MulticlassSystem::from_features(&phi, labels, classes)?;
                let mut truncation = None;
                if let Some(rank) = self.rank {
                    check_rank(rank, mc.system().examples())?;
                    let (kept, top) = mc.keep_top(rank)?;
                    mc = kept;
                    truncation = Some(top);
                }
                return Ok(LoadedSystem {
                    system: mc.system().clone(),
                    raw: None,
                    truncation,
                    initial: None,
                    multiclass: Some(mc),
                });
            }
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
                multiclass: None,
            });
        }
        if let (Some(k_path), Some(y_path)) = (&self.kernel, &self.labels) {
            let kernel = read_matrix(k_path)?;
            let labels = read_vector(y_path)?;
            let floor = self.strength_floor.unwrap_or(DEFAULT_KERNEL_STRENGTH_FLOOR);
            if let Some((classes, labels)) = class_labels(&labels, self.classes)? {
                return self.multiclass_kernel(&kernel, labels, classes, floor);
            }
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
                multiclass: None,
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
                multiclass: None,
            });
        }
        bail!("no system source given")
    }

    /// A multi-class system from a kernel (nc × nc, or n × n meaning ⊗ I_c), its negligible
    /// strengths dropped, then the top --rank features kept.
    fn multiclass_kernel(
        &self,
        kernel: &nalgebra::DMatrix<f64>,
        labels: Vec<usize>,
        classes: usize,
        floor: f64,
    ) -> Result<LoadedSystem> {
        let (mut mc, mut truncation) =
            MulticlassSystem::from_kernel(kernel, labels, classes, floor)?;
        if let Some(rank) = self.rank {
            check_rank(rank, mc.system().examples())?;
            let (kept, top) = mc.keep_top(rank)?;
            mc = kept;
            truncation = truncation.then(top);
        }
        Ok(LoadedSystem {
            system: mc.system().clone(),
            raw: None,
            truncation: Some(truncation),
            initial: None,
            multiclass: Some(mc),
        })
    }

    /// `--spectrum FROM:TO`, parsed by [`Spectrum`]'s `FromStr`; a syntax error names the flag.
    fn parse_spectrum(&self) -> Result<Spectrum> {
        self.spectrum.parse::<Spectrum>().map_err(|e| match e {
            gstarve_core::Error::Input(InputError::Syntax { text, problem, .. }) => {
                anyhow!("--spectrum '{text}': {problem}")
            }
            other => other.into(),
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
