//! JSON text of typed results (`#[derive(Serialize)]` structs), compact or pretty, with keys in
//! the structs' declared order or sorted. With a provenance installed
//! ([`super::provenance::install`]), a document whose top level is an object carries it under
//! the key `"gstarve"` (first in declared order; in its alphabetical place when sorted).

use serde::Serialize;

use crate::error::{Error, OutputError, Result};

/// Line layout of the JSON text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Layout {
    /// One line, no spaces.
    Compact,
    /// Indented by two spaces, one value per line.
    Pretty,
}

fn encode_error(e: serde_json::Error) -> Error {
    Error::Output(OutputError::Encode {
        format: "JSON",
        detail: e.to_string(),
    })
}

fn render<T: Serialize>(value: &T, layout: Layout) -> Result<String> {
    match layout {
        Layout::Compact => serde_json::to_string(value),
        Layout::Pretty => serde_json::to_string_pretty(value),
    }
    .map_err(encode_error)
}

/// `value` as JSON, object keys in the order its types declare them.
pub fn to_json<T: Serialize>(value: &T, layout: Layout) -> Result<String> {
    let text = render(value, layout)?;
    match super::provenance::installed() {
        Some(p) if text.starts_with('{') => super::provenance::embed_in_json(&p, &text),
        _ => Ok(text),
    }
}

/// `value` as JSON with the keys of every object, however deep, in alphabetical order (the
/// value passes through [`serde_json::Value`], whose maps are sorted). Non-finite numbers are
/// written as `null`, as [`to_json`] writes them.
pub fn to_json_sorted<T: Serialize>(value: &T, layout: Layout) -> Result<String> {
    let mut tree = serde_json::to_value(value).map_err(encode_error)?;
    if let (Some(p), Some(object)) = (super::provenance::installed(), tree.as_object_mut()) {
        object.insert(
            "gstarve".to_string(),
            serde_json::to_value(p).map_err(encode_error)?,
        );
    }
    render(&tree, layout)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Serialize)]
    struct Inner {
        z: f64,
        a: Option<f64>,
    }

    #[derive(Serialize)]
    struct Outer {
        zeta: Vec<Inner>,
        alpha: u32,
    }

    #[test]
    fn keys_in_declared_or_sorted_order() {
        let v = Outer {
            zeta: vec![Inner {
                z: f64::NAN,
                a: Some(0.5),
            }],
            alpha: 2,
        };
        assert_eq!(
            to_json(&v, Layout::Compact).unwrap(),
            r#"{"zeta":[{"z":null,"a":0.5}],"alpha":2}"#
        );
        assert_eq!(
            to_json_sorted(&v, Layout::Compact).unwrap(),
            r#"{"alpha":2,"zeta":[{"a":0.5,"z":null}]}"#
        );
        assert_eq!(
            to_json_sorted(&v, Layout::Pretty).unwrap(),
            "{\n  \"alpha\": 2,\n  \"zeta\": [\n    {\n      \"a\": 0.5,\n      \"z\": null\n    }\n  ]\n}"
        );
    }
}
