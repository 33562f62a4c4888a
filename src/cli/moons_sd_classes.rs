//! `gstarve reproduce moons-sd-classes`: Spectral Decoupling with a weight and a margin target
//! per class (docs/theory.md §10.1) on the two-moons networks, beside plain SD.
//!
//! Two settings at the same margin Δ (default +0.1): plain SD (`--sd`, default 0.003 on mean ŷ²)
//! and SD per class (`--lambda λ0,λ1 --sd-target γ0,γ1`, sum convention and margin targets, as in
//! `fixed-point --reg sd`). Without `--lambda`/`--sd-target` the per-class setting is the
//! authors' CelebA one translated to margins: coefficient 0.1 on each class's mean of
//! (ŷ − t_c)², logit targets t = (0.44, 2.5), i.e. λ_c = 2·0.1·n/n_c (0.4 for the balanced
//! moons) and γ = (−0.44, 2.5) (`gstarve_net::network::class_targets`). Every other option is
//! `reproduce moons`'s; files are `moons-sd-classes-…`.

use anyhow::{bail, Result};
use clap::Args;
use gstarve_net::data::{two_moons, MoonsOptions};
use gstarve_net::experiments::MoonsSetting;
use gstarve_net::network::ClassTargets;

use super::moons::MoonsArgs;

/// `gstarve reproduce moons-sd-classes`.
#[derive(Args, Debug)]
pub struct MoonsSdClassesArgs {
    #[command(flatten)]
    base: MoonsArgs,
    /// Per-class SD weights λ0,λ1 (class 0: label −1), sum convention (the mean objective's
    /// coefficient is λ/2); one value for both. Default: the authors' CelebA setting, 2·0.1·n/n_c.
    #[arg(long, value_delimiter = ',', allow_negative_numbers = true)]
    lambda: Option<Vec<f64>>,
    /// Per-class margin targets γ0,γ1 on y·ŷ; one value for both. Default: the authors' logit
    /// targets (0.44, 2.5) as margins, (−0.44, 2.5).
    #[arg(
        long = "sd-target",
        value_delimiter = ',',
        allow_negative_numbers = true
    )]
    sd_target: Option<Vec<f64>>,
    /// Margin Δ of the moons of both settings.
    #[arg(long, default_value_t = 0.1, allow_negative_numbers = true)]
    margin: f64,
}

/// One or two values as a pair (one value: the same for both classes).
fn pair(flag: &str, values: &[f64]) -> Result<[f64; 2]> {
    match values {
        [v] => Ok([*v, *v]),
        [a, b] => Ok([*a, *b]),
        _ => bail!(
            "{flag} has {} values: give one (both classes) or two (class 0 = label −1, class 1 = +1)",
            values.len()
        ),
    }
}

impl MoonsSdClassesArgs {
    fn targets(&self) -> Result<ClassTargets> {
        let n = self.base.points()?;
        let data = two_moons(&MoonsOptions {
            n,
            noise: self.base.noise(),
            margin: self.margin,
            ..Default::default()
        })?;
        let authors = ClassTargets::authors_celeba(&data)?;
        let lambda = match &self.lambda {
            Some(v) => pair("--lambda", v)?,
            None => authors.lambda,
        };
        let target = match &self.sd_target {
            Some(v) => pair("--sd-target", v)?,
            None => authors.target,
        };
        for l in lambda {
            if !(l.is_finite() && l >= 0.0) {
                bail!(
                    "--lambda = {} is invalid: a class's SD weight must be finite and ≥ 0",
                    gstarve_core::error::number(l)
                );
            }
        }
        for g in target {
            if !g.is_finite() {
                bail!(
                    "--sd-target = {} is invalid: a margin target must be finite",
                    gstarve_core::error::number(g)
                );
            }
        }
        Ok(ClassTargets::new(lambda, target)?)
    }
}

/// Run `gstarve reproduce moons-sd-classes`.
pub fn run_moons_sd_classes(a: &MoonsSdClassesArgs) -> Result<()> {
    if !(a.base.sd() > 0.0 && a.base.sd().is_finite()) {
        bail!(
            "--sd = {} is invalid: the plain-SD setting needs a coefficient > 0",
            gstarve_core::error::number(a.base.sd())
        );
    }
    if !a.margin.is_finite() {
        bail!("--margin = {} is invalid: it must be finite", a.margin);
    }
    let targets = a.targets()?;
    let settings = vec![
        MoonsSetting::new(a.margin, a.base.sd()),
        MoonsSetting::with_class_targets(a.margin, targets),
    ];
    let spec = a.base.spec_for(settings)?;
    super::moons_report::run_experiment(&a.base, &spec, "moons-sd-classes")
}
