//! The values of list and named options, as the command line hands them to the library. clap
//! splits a list option at commas (`value_delimiter = ','`) and parses each item with `FromStr`
//! (`f64`, or the library's own types); the library then validates what it received. The first
//! byte picks the option, the rest is its text:
//!
//! - 0 `--strengths S1,S2,…` → `FeatureSystem::decoupled`;
//! - 1 `--strengths S1,S2 --coupling D` (three numbers) → `FeatureSystem::rotation`;
//! - 2 `--spectrum FROM:TO` → `Spectrum::from_str`, then its strengths for n = 1, 2, 7;
//! - 3 `--lambda L` with `--reg l2` and `--reg sd` → `Regulariser::validated`;
//! - 4 `--methods a,b` → `Method::from_str`; `--method` → `FlowMethod::from_str`;
//!   `--measure` → `Measure::from_str`; an axis's `PARAMETER` → `Parameter::from_str`.
//!
//! Accepted values keep the invariants (a system's, strengths finite and ≥ 0, λ finite and ≥ 0);
//! refused ones are one-line input errors (or clap's own one-line message for a `FromStr`
//! refusal, which must not be empty or span lines).
#![no_main]

use gstarve_core::model::Regulariser;
use gstarve_core::ode::FlowMethod;
use gstarve_core::simulation::Method;
use gstarve_core::sweeps::{Measure, Parameter};
use gstarve_core::systems::{FeatureSystem, Spectrum};
use gstarve_fuzz::{assert_input_rejection, assert_system};

/// A list option's items as clap produces them: split at commas, each parsed by `FromStr`.
fn list(text: &str) -> Option<Vec<f64>> {
    text.split(',').map(|t| t.parse::<f64>().ok()).collect()
}

/// A `FromStr` refusal as clap shows it: a non-empty message.
fn named<T: std::str::FromStr<Err = String>>(text: &str) {
    if let Err(message) = text.parse::<T>() {
        assert!(!message.trim().is_empty());
    }
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let [which, rest @ ..] = data else { return };
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    match which % 5 {
        0 => {
            let Some(s) = list(text) else { return };
            match FeatureSystem::decoupled(&s) {
                Ok(system) => {
                    assert_system(&system, None);
                    assert_eq!(system.strengths().as_slice(), &s[..]);
                }
                Err(e) => assert_input_rejection(&e),
            }
        }
        1 => {
            let Some(v) = list(text) else { return };
            let [s1, s2, delta] = v[..] else { return };
            match FeatureSystem::rotation(s1, s2, delta) {
                Ok(system) => {
                    assert_system(&system, None);
                    assert!(delta.abs() <= 1.0);
                    assert_eq!(system.coupling()[(1, 0)], delta);
                }
                Err(e) => assert_input_rejection(&e),
            }
        }
        2 => match text.parse::<Spectrum>() {
            Ok(spectrum) => {
                for n in [1, 2, 7] {
                    match spectrum.strengths(n) {
                        Ok(s) => {
                            assert_eq!(s.len(), n);
                            assert!(
                                s.iter().all(|v| v.is_finite() && *v >= 0.0),
                                "{spectrum:?}: {s:?}"
                            );
                        }
                        Err(e) => assert_input_rejection(&e),
                    }
                }
            }
            Err(e) => assert_input_rejection(&e),
        },
        3 => {
            let Ok(lambda) = text.parse::<f64>() else {
                return;
            };
            for reg in [
                Regulariser::L2 { lambda },
                Regulariser::SpectralDecoupling { lambda },
            ] {
                match reg.validated() {
                    Ok(r) => assert!(r.lambda().is_finite() && r.lambda() >= 0.0),
                    Err(e) => assert_input_rejection(&e),
                }
            }
        }
        _ => {
            for item in text.split(',') {
                named::<Method>(item);
            }
            named::<FlowMethod>(text);
            named::<Measure>(text);
            named::<Parameter>(text);
        }
    }
});
