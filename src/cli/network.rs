//! `gstarve network`: a data set → a two-layer ReLU network at initialisation → its feature
//! system (S, U, V) and initial responses z(0), written as a system file.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;
use gstarve_core::output::{check_output_file, write_all_atomic};
use gstarve_core::systems::npy_bytes;
use gstarve_net::data::{read_dataset_csv, two_moons, Dataset, MoonsOptions};
use gstarve_net::network::{
    network_features, ntk_gram, NetworkOptions, Parameterisation, TwoLayerRelu,
};
use nalgebra::DMatrix;

/// Where the data set comes from: the paper's two moons (default) or a CSV file.
#[derive(Args, Debug, Clone)]
pub struct DatasetArgs {
    /// The paper's two-moons data set (the default when --data is not given).
    #[arg(long, conflicts_with = "data", help_heading = "Data")]
    pub moons: bool,
    /// Two moons: number of points.
    #[arg(
        long,
        default_value_t = 300,
        conflicts_with = "data",
        help_heading = "Data"
    )]
    pub n: usize,
    /// Two moons: standard deviation of the Gaussian noise.
    #[arg(
        long,
        default_value_t = 0.1,
        allow_negative_numbers = true,
        conflicts_with = "data",
        help_heading = "Data"
    )]
    pub noise: f64,
    /// Two moons: margin Δ along the folded axis (+0.1 separates, −0.1 overlaps).
    #[arg(
        long,
        default_value_t = 0.1,
        allow_negative_numbers = true,
        conflicts_with = "data",
        help_heading = "Data"
    )]
    pub margin: f64,
    /// Two moons: counter-clockwise rotation of the points, in degrees.
    #[arg(
        long,
        default_value_t = 0.0,
        allow_negative_numbers = true,
        conflicts_with = "data",
        help_heading = "Data"
    )]
    pub angle: f64,
    /// Two moons: seed of the noise.
    #[arg(
        long,
        default_value_t = 0,
        conflicts_with = "data",
        help_heading = "Data"
    )]
    pub data_seed: u64,
    /// A data set as CSV: columns x₁,…,x_d,y with y ∈ {−1,+1} or {0,1}, one example per line.
    /// A UTF-8 BOM is ignored; the first row is a header only if every field is a name (a first
    /// row mixing names and numbers is refused); empty and # lines are skipped.
    #[arg(long, value_name = "FILE.csv", help_heading = "Data")]
    pub data: Option<PathBuf>,
}

impl DatasetArgs {
    /// The validated data set.
    pub fn load(&self) -> Result<Dataset> {
        match &self.data {
            Some(path) => Ok(read_dataset_csv(path)?),
            None => Ok(two_moons(&MoonsOptions {
                n: self.n,
                noise: self.noise,
                margin: self.margin,
                angle_degrees: self.angle,
                seed: self.data_seed,
            })?),
        }
    }
}

/// `gstarve network`.
#[derive(Args, Debug)]
pub struct NetworkArgs {
    #[command(flatten)]
    data: DatasetArgs,
    /// Hidden width m (p = m(d+2)+1 parameters).
    #[arg(long, default_value_t = 500)]
    width: usize,
    /// Parameterisation: pytorch (uniform ±1/√fan_in, f = aᵀrelu(Wx+b)+c) or ntk
    /// (standard normal, f = aᵀrelu(Wx+b)/√m + c).
    #[arg(long = "param", default_value = "pytorch")]
    parameterisation: Parameterisation,
    /// Seed of the initialisation.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Start from f₀ ≡ 0: hidden units in pairs with opposite output weights (width even).
    #[arg(long)]
    zero_output: bool,
    /// Output system file (JSON; TOML for *.toml; a NumPy .npz archive for *.npz) with strengths, u, v and z0.
    #[arg(long, short, value_name = "FILE")]
    out: PathBuf,
    /// Also write the network's unsigned NTK Gram matrix Θ = ΦΦᵀ (n × n, float64 .npy), the
    /// input of `--kernel` (docs/theory.md §8.6).
    #[arg(long, value_name = "K.npy")]
    out_kernel: Option<PathBuf>,
    /// Also write the data set's labels (±1, float64 .npy), the input of `--labels`.
    #[arg(long, value_name = "Y.npy")]
    out_labels: Option<PathBuf>,
}

/// Run `gstarve network`.
pub fn network(a: &NetworkArgs) -> Result<()> {
    for path in std::iter::once(&a.out)
        .chain(&a.out_kernel)
        .chain(&a.out_labels)
    {
        check_output_file(path)?;
    }
    let data = a.data.load()?;
    let net = TwoLayerRelu::init(
        data.dim(),
        &NetworkOptions {
            width: a.width,
            parameterisation: a.parameterisation,
            seed: a.seed,
            zero_output: a.zero_output,
        },
    )?;
    super::outputs::before_work()?;
    let features = network_features(&net, &data)?;
    let sys = &features.system;
    // Every output is computed first, then all are written together (or none).
    let mut files = vec![(
        a.out.clone(),
        sys.file_bytes(&a.out, Some(&features.initial_responses))?,
    )];
    if let Some(path) = &a.out_kernel {
        files.push((path.clone(), npy_bytes(&ntk_gram(&net, &data)?)));
    }
    if let Some(path) = &a.out_labels {
        let labels = DMatrix::from_column_slice(data.len(), 1, data.labels().as_slice());
        files.push((path.clone(), npy_bytes(&labels)));
    }
    write_all_atomic(&files)
        .with_context(|| format!("writing the network's system to {}", a.out.display()))?;
    let s = sys.strengths();
    eprintln!(
        "{}: {} examples, {} parameters, {} features, s₁ = {:.4}, s_{} = {:.3e}, ‖z(0)‖ = {:.4}",
        a.out.display(),
        data.len(),
        net.num_parameters(),
        sys.rank(),
        s[0],
        sys.rank(),
        s[sys.rank() - 1],
        features.initial_responses.norm()
    );
    Ok(())
}
