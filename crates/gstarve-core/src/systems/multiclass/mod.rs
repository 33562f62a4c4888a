//! Multi-class feature systems (docs/theory.md §9.1): c classes, integer labels yᵢ ∈ 0..c−1,
//! and a coupling U ∈ R^{nc×r} over the network's n·c outputs, example-major (row i·c + k is
//! output k of example i), from the thin SVD Φ = U S Vᵀ of the stacked output Jacobian (no label
//! signing: the labels enter the dynamics through the one-hot targets Y).
//!
//! A [`MulticlassSystem`] is a validated [`FeatureSystem`] (strengths ≥ 0, orthonormal columns)
//! whose row count is n·c, with the labels that make its targets. Sources: [`sources`]
//! (features, kernels, the two-logit image of a binary system), [`io`] (system files).

mod io;
mod sources;

pub use io::MulticlassFile;

use nalgebra::DVector;

use super::{FeatureSystem, Truncation};
use crate::error::{Error, InputError, Result};

/// The most classes a system may have (a label is a class index, so a label of 10⁶ would ask for
/// a million outputs per example).
pub const MAX_CLASSES: usize = 4096;

/// A feature system over the n·c outputs of a c-class network, with its labels.
///
/// Invariants: `classes ≥ 2`, `labels.len() · classes == system.examples()` (the rows of U),
/// every label `< classes`.
#[derive(Clone, Debug, PartialEq)]
pub struct MulticlassSystem {
    system: FeatureSystem,
    classes: usize,
    labels: Vec<usize>,
}

impl MulticlassSystem {
    /// A multi-class system from a feature system whose coupling has n·c rows (example-major),
    /// the number of classes c and the n labels. Errors (exit 2): c < 2, a label ≥ c, a row count
    /// of U that is not n·c.
    pub fn new(system: FeatureSystem, classes: usize, labels: Vec<usize>) -> Result<Self> {
        if classes < 2 {
            return Err(Error::Input(InputError::TooFewClasses { classes }));
        }
        if let Some((i, &y)) = labels.iter().enumerate().find(|(_, &y)| y >= classes) {
            return Err(Error::Input(InputError::ClassLabel {
                index: i + 1,
                value: y as f64,
                classes,
            }));
        }
        if labels.is_empty() {
            return Err(Error::Input(InputError::Empty {
                what: "labels",
                rule: "a multi-class system needs at least one example",
            }));
        }
        let rows = system.examples();
        if rows != labels.len() * classes {
            return Err(Error::Input(InputError::Length {
                what: "rows of the coupling U",
                found: rows,
                expected: labels.len() * classes,
                rule: "n·c: one row per example and class (row i·c + k is output k of example i)",
            }));
        }
        Ok(Self {
            system,
            classes,
            labels,
        })
    }

    /// The feature system (strengths, and the nc × r coupling).
    pub fn system(&self) -> &FeatureSystem {
        &self.system
    }

    /// The number of classes c.
    pub fn classes(&self) -> usize {
        self.classes
    }

    /// The labels y₁ … y_n, each in 0..c−1.
    pub fn labels(&self) -> &[usize] {
        &self.labels
    }

    /// The number of examples n (the coupling has n·c rows).
    pub fn examples(&self) -> usize {
        self.labels.len()
    }

    /// The number of features r.
    pub fn rank(&self) -> usize {
        self.system.rank()
    }

    /// The classes no example carries (a warning, not an error: their outputs are pushed down
    /// for every example, and nothing pulls them up).
    pub fn empty_classes(&self) -> Vec<usize> {
        let mut count = vec![0usize; self.classes];
        for &y in &self.labels {
            count[y] += 1;
        }
        (0..self.classes).filter(|&k| count[k] == 0).collect()
    }

    /// vec(Y): the one-hot targets, length n·c, example-major.
    pub fn targets(&self) -> DVector<f64> {
        let c = self.classes;
        let mut y = DVector::zeros(self.labels.len() * c);
        for (i, &label) in self.labels.iter().enumerate() {
            y[i * c + label] = 1.0;
        }
        y
    }

    /// The same labels with another feature system over the same outputs (new strengths, a
    /// truncation): the row count must still be n·c.
    pub fn with_system(&self, system: FeatureSystem) -> Result<Self> {
        Self::new(system, self.classes, self.labels.clone())
    }

    /// Keep the top `rank` features (docs/theory.md §8.7), labels unchanged.
    pub fn keep_top(self, rank: usize) -> Result<(Self, Truncation)> {
        let (system, truncation) = self.system.clone().keep_top(rank)?;
        Ok((self.with_system(system)?, truncation))
    }

    /// Drop the features with s_j² ≤ floor·s₁² (docs/theory.md §8.6), labels unchanged.
    pub fn drop_negligible(self, strength_floor: f64) -> Result<(Self, Truncation)> {
        let (system, truncation) = self.system.clone().drop_negligible(strength_floor)?;
        Ok((self.with_system(system)?, truncation))
    }
}

/// Read a label vector (docs/theory.md §9.1, "Which labels make a multi-class system"):
///
/// - with `classes = Some(c)`: multi-class with c classes; every label must be an integer in
///   0..c−1 and c ≥ 2 (c = 2 asks for the two-logit softmax system of binary data);
/// - without: labels that are all in {−1, 0, +1} stay binary (`None`: ±1, or 0/1, as before);
///   otherwise they must be non-negative integers, and c = (largest label) + 1 ≥ 3.
pub fn class_labels(raw: &[f64], classes: Option<usize>) -> Result<Option<(usize, Vec<usize>)>> {
    let classes = match classes {
        Some(c) => {
            if c < 2 {
                return Err(Error::Input(InputError::TooFewClasses { classes: c }));
            }
            c
        }
        None => {
            if raw.iter().all(|&y| y == -1.0 || y == 0.0 || y == 1.0) {
                return Ok(None);
            }
            let largest = raw
                .iter()
                .filter(|y| y.is_finite())
                .fold(0.0f64, |a, &b| a.max(b));
            largest.min(MAX_CLASSES as f64) as usize + 1
        }
    };
    if classes > MAX_CLASSES {
        return Err(Error::Input(InputError::InvalidParameter {
            name: "classes",
            value: classes as f64,
            rule: "at most 4096 classes (labels are class indices 0..c−1)",
        }));
    }
    let mut labels = Vec::with_capacity(raw.len());
    for (i, &y) in raw.iter().enumerate() {
        if !(y.is_finite() && y >= 0.0 && y.fract() == 0.0 && (y as usize) < classes) {
            return Err(Error::Input(InputError::ClassLabel {
                index: i + 1,
                value: y,
                classes,
            }));
        }
        labels.push(y as usize);
    }
    Ok(Some((classes, labels)))
}

/// A random c-class system for tests: n examples, r features of a Haar n·c × r coupling, a
/// geometric spectrum from 3 to 0.5, labels (7i + 3) mod c.
#[cfg(test)]
pub(crate) fn random_multiclass(n: usize, c: usize, r: usize, seed: u64) -> MulticlassSystem {
    let spectrum = crate::systems::Spectrum::Geometric { from: 3.0, to: 0.5 };
    let (system, _) = FeatureSystem::random_top(n * c, r, spectrum, seed).unwrap();
    let labels = (0..n).map(|i| (i * 7 + 3) % c).collect();
    MulticlassSystem::new(system, c, labels).unwrap()
}

#[cfg(test)]
mod tests;
