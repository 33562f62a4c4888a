//! The reversal of the paper's Figure 2: the three settings (Δ = −0.1 "overlap", Δ = +0.1
//! "margin", Δ = +0.1 with SD) rank in opposite orders on a leading and a weak feature.
//!
//! The authors' figure plots |z_j| averaged over 10 seeds for features 2 and 7 of the
//! descending spectrum (indices 1 and 6). Its claim, as an ordering of those means:
//!
//! - leading feature: margin > overlap > SD (a larger margin lets the dominant feature grow; SD
//!   bounds it);
//! - weak feature: overlap > SD > margin (the larger margin starves it; SD gives some back).
//!
//! [`reversal`] reads the ordering at every record and at the end, from the `overlay` bands.

use super::{MoonsExperiment, SettingResult};

/// The expected order on the leading feature.
pub const LEADING_ORDER: &str = "margin > overlap > SD";
/// The expected order on the weak feature.
pub const WEAK_ORDER: &str = "overlap > SD > margin";

/// The ordering of the three settings on one feature.
#[derive(Clone, Debug, PartialEq)]
pub struct FeatureOrder {
    /// The feature, 0-based.
    pub feature: usize,
    /// "leading" or "weak".
    pub role: &'static str,
    /// Final mean |z_j| over seeds: Δ = −0.1 (overlap), Δ = +0.1 (margin), Δ = +0.1 with SD.
    pub finals: [f64; 3],
    /// The observed final order, e.g. "margin > overlap > SD".
    pub observed: String,
    /// The paper's order.
    pub expected: &'static str,
    /// Whether the final order is the paper's.
    pub agrees: bool,
    /// Records (after epoch 0) at which the order is the paper's.
    pub records_in_order: usize,
    /// Records after epoch 0.
    pub records: usize,
    /// The first epoch from which the order is the paper's at every later record (None: it is
    /// not at the end).
    pub settled_from: Option<usize>,
}

/// The reversal over the two overlay features.
#[derive(Clone, Debug, PartialEq)]
pub struct Reversal {
    /// Leading feature, then weak feature.
    pub features: [FeatureOrder; 2],
}

impl Reversal {
    /// Both final orders are the paper's.
    pub fn holds(&self) -> bool {
        self.features.iter().all(|f| f.agrees)
    }
}

const NAMES: [&str; 3] = ["overlap", "margin", "SD"];

fn order(values: [f64; 3]) -> String {
    let mut idx = [0usize, 1, 2];
    idx.sort_by(|&a, &b| values[b].total_cmp(&values[a]));
    idx.map(|i| NAMES[i]).join(" > ")
}

/// The three paper settings of `exp` (overlap, margin, SD), if present.
fn paper_settings(exp: &MoonsExperiment) -> Option<[&SettingResult; 3]> {
    let find = |pred: &dyn Fn(&SettingResult) -> bool| exp.settings.iter().find(|s| pred(s));
    let overlap = find(&|s| s.setting.margin < 0.0 && !s.setting.has_sd())?;
    let margin = find(&|s| s.setting.margin > 0.0 && !s.setting.has_sd())?;
    let sd = find(&|s| {
        s.setting.margin > 0.0
            && s.setting.spectral_decoupling > 0.0
            && s.setting.class_targets.is_none()
    })?;
    Some([overlap, margin, sd])
}

/// The reversal of the paper's Figure 2, when `exp` has its three settings and two overlay
/// features (the first read as the leading one, the second as the weak one).
pub fn reversal(exp: &MoonsExperiment) -> Option<Reversal> {
    let settings = paper_settings(exp)?;
    if exp.spec.overlay.len() != 2 {
        return None;
    }
    let records = settings[0].epochs.len();
    if settings.iter().any(|s| s.overlay_bands.len() != records) {
        return None;
    }
    let feature = |k: usize, role, expected: &'static str| {
        let at = |i: usize| settings.map(|s| s.overlay_bands[i][k].mean);
        let finals = at(records - 1);
        let observed = order(finals);
        let in_order: Vec<bool> = (1..records).map(|i| order(at(i)) == expected).collect();
        let settled = in_order.iter().rposition(|&ok| !ok).map_or(0, |i| i + 1);
        let settled_from = (settled < in_order.len()).then(|| settings[0].epochs[settled + 1]);
        FeatureOrder {
            feature: exp.spec.overlay[k],
            role,
            finals,
            agrees: observed == expected,
            observed,
            expected,
            records_in_order: in_order.iter().filter(|&&ok| ok).count(),
            records: in_order.len(),
            settled_from,
        }
    };
    Some(Reversal {
        features: [
            feature(0, "leading", LEADING_ORDER),
            feature(1, "weak", WEAK_ORDER),
        ],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn orders_name_the_settings_from_largest_to_smallest() {
        assert_eq!(order([2.0, 3.0, 1.0]), LEADING_ORDER);
        assert_eq!(order([24.5, 5.3, 15.4]), WEAK_ORDER);
    }
}
