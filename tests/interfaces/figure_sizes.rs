//! Figures at any size: `--width`, `--height`, `--dpi`, `--font-size` (checked before any work),
//! PDF export with the font embedded, and phase diagrams of a user's system against single-point
//! computations.

use std::path::Path;

use super::support::{assert_rejected, gstarve, write};

/// The PNG's pixel size.
fn png_size(path: &Path) -> (u32, u32) {
    image::open(path).unwrap().to_rgb8().dimensions()
}

/// The streams of a PDF, decompressed where they are Flate-compressed.
fn pdf_streams(pdf: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut at = 0;
    while let Some(k) = find(&pdf[at..], b"stream") {
        let start = at + k + b"stream".len();
        // "endstream" also contains "stream": skip it.
        if pdf[..at + k].ends_with(b"end") {
            at = start;
            continue;
        }
        let start = start + if pdf[start] == b'\r' { 2 } else { 1 };
        let Some(end) = find(&pdf[start..], b"endstream") else {
            break;
        };
        let raw = &pdf[start..start + end];
        // Flate-compressed (content, fonts) or plain (svg2pdf's ToUnicode CMap).
        out.push(
            miniz_oxide::inflate::decompress_to_vec_zlib(raw).unwrap_or_else(|_| raw.to_vec()),
        );
        at = start + end + b"endstream".len();
    }
    out
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// The PDF's page size in points, from its MediaBox.
fn media_box(pdf: &[u8]) -> (f64, f64) {
    let k = find(pdf, b"/MediaBox [").expect("a MediaBox");
    let rest = &pdf[k + b"/MediaBox [".len()..];
    let end = find(rest, b"]").unwrap();
    let v: Vec<f64> = std::str::from_utf8(&rest[..end])
        .unwrap()
        .split_whitespace()
        .map(|t| t.parse().unwrap())
        .collect();
    (v[2] - v[0], v[3] - v[1])
}

#[test]
fn pdf_is_vector_with_the_font_embedded_and_text_as_text() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    let out = gstarve(&["responses", "--out", d, "--format", "pdf", "--name", "r"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let pdf = std::fs::read(dir.path().join("r.pdf")).unwrap();
    assert!(pdf.starts_with(b"%PDF-"), "not a PDF");
    assert!(!dir.path().join("r.png").exists() && !dir.path().join("r.svg").exists());
    // The bundled font is embedded (a TrueType subset), not referenced.
    assert!(
        find(&pdf, b"/FontFile2").is_some(),
        "no embedded font program"
    );
    assert!(
        find(&pdf, b"DejaVu").is_some(),
        "the font is not DejaVu Sans"
    );
    // Text is drawn as text (BT … Tf … ET) in some content stream, and maps back to Unicode.
    let streams = pdf_streams(&pdf);
    assert!(
        streams
            .iter()
            .any(|s| find(s, b"BT").is_some() && find(s, b" Tf").is_some()),
        "no text object in any content stream"
    );
    assert!(
        streams
            .iter()
            .any(|s| find(s, b"beginbfchar").is_some() || find(s, b"beginbfrange").is_some()),
        "no ToUnicode map"
    );
    // The page is the figure's physical size: 900 × 650 layout pixels at 270 per inch.
    let (w, h) = media_box(&pdf);
    assert!(
        (w - 240.0).abs() < 0.05 && (h - 173.33).abs() < 0.05,
        "{w} × {h} pt"
    );
}

#[test]
fn pdf_of_a_heatmap_embeds_its_image() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    let out = gstarve(&[
        "phase-diagram",
        "--grid",
        "8",
        "--out",
        d,
        "--format",
        "pdf,png",
        "--name",
        "p",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let pdf = std::fs::read(dir.path().join("p.pdf")).unwrap();
    assert!(pdf.starts_with(b"%PDF-"));
    assert!(
        find(&pdf, b"/Subtype /Image").is_some(),
        "heatmap image missing"
    );
    assert_eq!(png_size(&dir.path().join("p.png")), (900, 650));
}

#[test]
fn size_flags_set_the_image_dimensions() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    // 5 in × 3 in at 100 dpi: a 500 × 300 PNG, a 360 × 216 pt PDF.
    let out = gstarve(&[
        "starvation-matrix",
        "--random",
        "5",
        "--out",
        d,
        "--name",
        "m",
        "--format",
        "png,pdf",
        "--width",
        "5",
        "--height",
        "3",
        "--dpi",
        "100",
        "--font-size",
        "7",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(png_size(&dir.path().join("m.png")), (500, 300));
    let (w, h) = media_box(&std::fs::read(dir.path().join("m.pdf")).unwrap());
    assert!(
        (w - 360.0).abs() < 0.05 && (h - 216.0).abs() < 0.05,
        "{w} × {h} pt"
    );
    // Twice the house resolution: twice the pixels of the default figure along each side.
    let out = gstarve(&["flow-vs-gd", "--out", d, "--name", "g", "--dpi", "540"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(png_size(&dir.path().join("g.png")), (1800, 1300));
    // The SVG states its physical size and keeps the layout's coordinates.
    let out = gstarve(&[
        "phase-plane",
        "--out",
        d,
        "--name",
        "s",
        "--format",
        "svg",
        "--width",
        "4.5",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let svg = std::fs::read_to_string(dir.path().join("s.svg")).unwrap();
    assert!(
        svg.contains("width=\"4.5000in\" height=\"2.4074in\" viewBox=\"0 0 1215 650\""),
        "{}",
        &svg[..200]
    );
}

#[test]
fn bad_sizes_are_refused_before_any_work() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    for (flag, value, needle) in [
        ("--width", "1", "--width = 1 is invalid"),
        ("--width", "nan", "--width = NaN is invalid"),
        ("--height", "0", "--height = 0 is invalid"),
        ("--height", "-3", "--height = -3 is invalid"),
        ("--dpi", "5000", "--dpi = 5000 is invalid"),
        ("--font-size", "100", "--font-size = 100 is invalid"),
        ("--font-size", "inf", "--font-size"),
    ] {
        for command in ["responses", "phase-diagram", "starvation-matrix"] {
            assert_rejected(&[command, "--out", d, flag, value], &[needle]);
        }
    }
    // A PNG beyond 4·10⁷ pixels.
    assert_rejected(
        &[
            "phase-plane",
            "--out",
            d,
            "--width",
            "20",
            "--height",
            "20",
            "--dpi",
            "1200",
        ],
        &["--dpi = 1200 is invalid", "pixels"],
    );
    assert!(
        std::fs::read_dir(dir.path()).unwrap().next().is_none(),
        "something was written"
    );
}

/// A 3-feature system file: strengths and a rotation in the (1, 3) plane composed with one in
/// the (2, 3) plane (orthonormal to rounding).
fn system_file(dir: &Path, strengths: [f64; 3]) -> String {
    let (a, b) = (0.4f64, 0.7f64);
    let (ca, sa, cb, sb) = (a.cos(), a.sin(), b.cos(), b.sin());
    // R13(a) · R23(b)
    let u = [
        [ca, -sa * sb, -sa * cb],
        [0.0, cb, -sb],
        [sa, ca * sb, ca * cb],
    ];
    let rows: Vec<String> = u
        .iter()
        .map(|r| format!("[{:e}, {:e}, {:e}]", r[0], r[1], r[2]))
        .collect();
    let text = format!(
        "{{\"strengths\": [{:e}, {:e}, {:e}], \"u\": [{}]}}",
        strengths[0],
        strengths[1],
        strengths[2],
        rows.join(", ")
    );
    write(
        dir,
        &format!("sys-{}-{}.json", strengths[0], strengths[2]),
        &text,
    )
}

fn json(out: &std::process::Output) -> serde_json::Value {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("JSON on stdout")
}

#[test]
fn system_phase_diagram_points_equal_fixed_point_on_the_scaled_system() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    let base = system_file(dir.path(), [3.0, 2.0, 1.0]);
    let diagram = json(&gstarve(&[
        "phase-diagram",
        "--system",
        &base,
        "--x",
        "s1:1:4",
        "--y",
        "s3:0.5:2",
        "--grid",
        "3",
        "--pair",
        "3,1",
        "--lambda",
        "0.02",
        "--json",
        "--out",
        d,
        "--format",
        "png,pdf",
    ]));
    assert_eq!(diagram["family"], "system");
    assert_eq!(diagram["x"]["parameter"], "s1");
    assert_eq!(diagram["y"]["parameter"], "s3");
    assert_eq!(diagram["fixed"]["s2"], 2.0);
    assert_eq!(diagram["fixed"]["lambda"], 0.02);
    let xs = diagram["x"]["values"].as_array().unwrap();
    let ys = diagram["y"]["values"].as_array().unwrap();
    assert_eq!((xs.len(), ys.len()), (3, 3));
    for (iy, y) in ys.iter().enumerate() {
        for (ix, x) in xs.iter().enumerate() {
            let (s1, s3) = (x.as_f64().unwrap(), y.as_f64().unwrap());
            let scaled = system_file(dir.path(), [s1, 2.0, s3]);
            let fp = json(&gstarve(&[
                "fixed-point",
                "--system",
                &scaled,
                "--lambda",
                "0.02",
                "--json",
            ]));
            // E_31: row j = 3, column i = 1.
            let expected = fp["elasticity"][2][0].as_f64().unwrap();
            let value = diagram["values"][iy][ix].as_f64().unwrap();
            assert!(
                (value - expected).abs() <= 1e-12 * expected.abs().max(1.0),
                "({s1}, {s3}): {value} vs fixed-point {expected}"
            );
            assert!(diagram["mask"][iy][ix].is_null());
        }
    }
    // The figure and its data were written too.
    for f in [
        "phase-diagram-elasticity.png",
        "phase-diagram-elasticity.pdf",
        "phase-diagram-elasticity.csv",
    ] {
        assert!(dir.path().join(f).exists(), "{f}");
    }
}

#[test]
fn system_phase_diagram_refuses_what_it_cannot_compute() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    let base = system_file(dir.path(), [3.0, 2.0, 1.0]);
    let run = |extra: &[&'static str]| {
        let mut args = vec![
            "phase-diagram",
            "--system",
            base.as_str(),
            "--out",
            d,
            "--grid",
            "3",
        ];
        args.extend_from_slice(extra);
        args
    };
    assert_rejected(&run(&["--x", "s1:1:4"]), &["needs both axes"]);
    assert_rejected(
        &run(&["--x", "s1:1:4", "--y", "s4:1:2"]),
        &["index = 4", "fewer features"],
    );
    assert_rejected(
        &run(&["--x", "s1:1:4", "--y", "ratio:1:2"]),
        &["unknown parameter 'ratio'"],
    );
    assert_rejected(&run(&["--x", "s1:1:4", "--y", "s1:1:2"]), &["strength"]);
    assert_rejected(
        &run(&["--x", "s1:1:4", "--y", "lambda:0:1"]),
        &["λ = 0 is invalid"],
    );
    assert_rejected(
        &run(&["--x", "s1:1:4", "--y", "s2:1:2", "--pair", "2,2"]),
        &["must differ"],
    );
    assert_rejected(&["phase-diagram", "--pair", "2,1", "--out", d], &["--pair"]);
    assert_rejected(
        &run(&["--x", "s1:1:4", "--y", "s2:1:2", "--delta", "0.3"]),
        &["rotation family"],
    );
}

#[test]
fn rotation_phase_diagram_prints_json_too() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    let v = json(&gstarve(&[
        "phase-diagram",
        "--grid",
        "4",
        "--json",
        "--out",
        d,
        "--measure",
        "ratio",
    ]));
    assert_eq!(v["family"], "rotation");
    assert_eq!(v["x"]["parameter"], "r");
    assert_eq!(v["fixed"]["lambda"], 0.01);
    // ρ = 1 at r = 1 (the reference itself).
    for row in v["values"].as_array().unwrap() {
        assert!((row[0].as_f64().unwrap() - 1.0).abs() < 1e-12);
    }
}
