//! Data sets for real networks: inputs x_i ∈ R^d with labels y_i = ±1 (docs/theory.md §1.1), from
//! the paper's two-moons generator ([`two_moons`]) or a CSV file ([`read_dataset_csv`]); c-class
//! data with labels in 0..c−1 ([`ClassDataset`]), from c interleaved spirals ([`spirals`]); and
//! the shipped optical digits ([`optical_digits`]) with the coloured-digits protocol of the
//! out-of-distribution experiment ([`coloured_digits`]).

mod coloured;
mod csv;
mod digits;
mod moons;
mod spirals;

pub use self::csv::{parse_dataset_csv, read_dataset_csv};
pub use coloured::{coloured_digits, ColouredDigits, ColouredSpec, Environment, COLOURED_INPUTS};
pub use digits::{optical_digits, parse_digits_csv, Digits, DIGIT_MAX_PIXEL, DIGIT_PIXELS};
pub use moons::{two_moons, MoonsOptions};
pub use spirals::{spirals, ClassDataset, SpiralsOptions};

use nalgebra::{DMatrix, DVector};

use gstarve_core::error::{Error, InputError, Result};
use gstarve_core::systems::check_finite;

/// A validated data set: n ≥ 1 examples of d ≥ 1 finite inputs, labels exactly ±1.
#[derive(Clone, Debug, PartialEq)]
pub struct Dataset {
    inputs: DMatrix<f64>,
    labels: DVector<f64>,
}

impl Dataset {
    /// Build a data set from inputs (n × d, one row per example) and labels (±1, or 0/1 mapped
    /// to −1/+1).
    pub fn new(inputs: DMatrix<f64>, labels: &[f64]) -> Result<Self> {
        let (n, d) = inputs.shape();
        if n == 0 || d == 0 {
            return Err(Error::Input(InputError::EmptyDataset {
                origin: "data set".into(),
                detail: "it needs at least one example and one input column",
            }));
        }
        if labels.len() != n {
            return Err(Error::Input(InputError::Length {
                what: "labels",
                found: labels.len(),
                expected: n,
                rule: "one per example of the data set",
            }));
        }
        check_finite("inputs x", &inputs)?;
        let labels = gstarve_core::systems::labels_to_signs(labels)?;
        Ok(Self { inputs, labels })
    }

    /// Number of examples n.
    pub fn len(&self) -> usize {
        self.inputs.nrows()
    }

    /// Always false: a data set has at least one example.
    pub fn is_empty(&self) -> bool {
        self.inputs.nrows() == 0
    }

    /// Input dimension d.
    pub fn dim(&self) -> usize {
        self.inputs.ncols()
    }

    /// The inputs, one row per example (n × d).
    pub fn inputs(&self) -> &DMatrix<f64> {
        &self.inputs
    }

    /// The labels y_i ∈ {−1, +1}.
    pub fn labels(&self) -> &DVector<f64> {
        &self.labels
    }
}
