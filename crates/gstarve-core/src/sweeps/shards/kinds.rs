//! What one item of a sharded sweep is, and its bytes in a shard file's record: the only part of
//! the shard mechanism that knows a sweep's results. A sweep's computation produces items; the
//! shard files store them ([`ShardKind::encode`]) and give them back bit for bit
//! ([`ShardKind::decode`]).

use super::format::Cursor;
use crate::sweeps::ensemble::SystemOutcome;
use crate::sweeps::measures::{MaskReason, PointRecord};

/// One kind of sharded sweep.
pub trait ShardKind {
    /// The kind's name in shard files.
    const KIND: &'static str;
    /// What the sweep counts its items in, for messages ("rows", "systems").
    const UNIT: &'static str;
    /// One item's result.
    type Item;
    /// Append item's bytes to `out`.
    fn encode(item: &Self::Item, out: &mut Vec<u8>);
    /// Item `index` back from its bytes, or what is wrong with them.
    fn decode(index: usize, payload: &[u8]) -> std::result::Result<Self::Item, String>;
}

/// A phase diagram's grid rows: item iy is row iy's records, ix = 0, 1, … (each 49 bytes: value,
/// z₁*, z₂*, boundary, reference, resolution as f64, then the mask as one byte).
pub struct PhaseRows;

/// The mask reasons by code (0: not masked; k + 1: entry k). Codes are stored in shard files:
/// append new reasons, never reorder.
const MASK_CODES: [MaskReason; 5] = [
    MaskReason::ZeroResponse,
    MaskReason::ZeroReference,
    MaskReason::NotConverged,
    MaskReason::NotReached,
    MaskReason::FlowFailed,
];

const POINT_BYTES: usize = 49;

impl ShardKind for PhaseRows {
    const KIND: &'static str = "phase-diagram";
    const UNIT: &'static str = "rows";
    type Item = Vec<PointRecord>;

    fn encode(row: &Vec<PointRecord>, out: &mut Vec<u8>) {
        out.reserve(row.len() * POINT_BYTES);
        for r in row {
            let fields = [
                r.value,
                r.responses[0],
                r.responses[1],
                r.boundary,
                r.reference,
                r.resolution,
            ];
            for v in fields {
                out.extend_from_slice(&v.to_bits().to_le_bytes());
            }
            let code = r
                .mask
                .and_then(|m| MASK_CODES.iter().position(|&c| c == m))
                .map_or(0, |k| k as u8 + 1);
            out.push(code);
        }
    }

    fn decode(_: usize, payload: &[u8]) -> std::result::Result<Vec<PointRecord>, String> {
        if !payload.len().is_multiple_of(POINT_BYTES) {
            return Err(format!(
                "its {} bytes are not whole points of {POINT_BYTES}",
                payload.len()
            ));
        }
        payload
            .chunks_exact(POINT_BYTES)
            .enumerate()
            .map(|(ix, p)| {
                let mut c = Cursor::new(p);
                let mut f = || c.f64().unwrap_or(f64::NAN);
                let [value, z1, z2, boundary, reference, resolution] = [(); 6].map(|()| f());
                let mask = match p[POINT_BYTES - 1] {
                    0 => None,
                    k => Some(
                        *MASK_CODES
                            .get(k as usize - 1)
                            .ok_or_else(|| format!("point {ix}: unknown mask code {k}"))?,
                    ),
                };
                Ok(PointRecord {
                    value,
                    mask,
                    responses: [z1, z2],
                    boundary,
                    reference,
                    resolution,
                })
            })
            .collect()
    }
}

/// An ensemble's random systems: item g is system g (seed u64, residual f64, iterations u64,
/// failure as text with length u32::MAX for none, then the count u32 and the off-diagonal E_ji
/// as f64).
pub struct EnsembleSystems;

impl ShardKind for EnsembleSystems {
    const KIND: &'static str = "ensemble";
    const UNIT: &'static str = "systems";
    type Item = SystemOutcome;

    fn encode(s: &SystemOutcome, out: &mut Vec<u8>) {
        out.extend_from_slice(&s.seed.to_le_bytes());
        out.extend_from_slice(&s.residual.to_bits().to_le_bytes());
        out.extend_from_slice(&(s.iterations as u64).to_le_bytes());
        match &s.failure {
            None => out.extend_from_slice(&u32::MAX.to_le_bytes()),
            Some(f) => {
                out.extend_from_slice(&(f.len() as u32).to_le_bytes());
                out.extend_from_slice(f.as_bytes());
            }
        }
        out.extend_from_slice(&(s.elasticities.len() as u32).to_le_bytes());
        for e in &s.elasticities {
            out.extend_from_slice(&e.to_bits().to_le_bytes());
        }
    }

    fn decode(index: usize, payload: &[u8]) -> std::result::Result<SystemOutcome, String> {
        let mut c = Cursor::new(payload);
        let outcome = (|| {
            let seed = c.u64()?;
            let residual = c.f64()?;
            let iterations = c.usize()?;
            let failure = match c.u32()? {
                u32::MAX => None,
                n => Some(String::from_utf8(c.take(n as usize)?.to_vec()).ok()?),
            };
            let n = c.u32()? as usize;
            let elasticities = (0..n).map(|_| c.f64()).collect::<Option<Vec<_>>>()?;
            Some(SystemOutcome {
                index,
                seed,
                failure,
                residual,
                iterations,
                elasticities,
            })
        })();
        match outcome {
            Some(o) if c.done() => Ok(o),
            _ => Err(format!("its {} bytes are not a system", payload.len())),
        }
    }
}
