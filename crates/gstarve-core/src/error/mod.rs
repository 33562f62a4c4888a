//! The library's typed errors, by layer: [`InputError`] (a value or file the user can fix; the
//! command line exits with status 2), [`NumericalError`] (the computation did not reach an
//! answer it can stand behind; status 1) and [`OutputError`] (a result could not be written).
//! [`Error`] composes them. Every variant carries the offending values and names the rule it
//! breaks, in the library's own terms (parameters by their API names, `eta`, `t_end`); the
//! command line maps those to its flags.

mod input;
mod numerical;
mod output;

pub use input::{computed, number, one_line, round_down, InputError};
pub use numerical::NumericalError;
pub use output::OutputError;

/// Everything that can go wrong in gstarve's library.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Input the library rejects.
    #[error(transparent)]
    Input(#[from] InputError),
    /// A numerical failure.
    #[error(transparent)]
    Numerical(#[from] NumericalError),
    /// An output that could not be written.
    #[error(transparent)]
    Output(#[from] OutputError),
}

impl Error {
    /// Whether this is a numerical failure (not the user's input).
    pub fn is_numerical(&self) -> bool {
        matches!(self, Error::Numerical(_))
    }
}

/// The library's result type.
pub type Result<T> = std::result::Result<T, Error>;
