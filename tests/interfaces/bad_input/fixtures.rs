//! The input files every bad-input case can name, written into each case's fresh folder.

/// A format-1.0 `.npy` file with `header` (padded as NumPy pads it) and raw `data`.
fn npy(header: &str, data: Vec<u8>) -> Vec<u8> {
    let pad = (64 - (10 + header.len() + 1) % 64) % 64;
    let header = format!("{header}{}\n", " ".repeat(pad));
    let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
    bytes.extend_from_slice(&(header.len() as u16).to_le_bytes());
    bytes.extend_from_slice(header.as_bytes());
    bytes.extend(data);
    bytes
}

/// Little-endian float64 values, as a `.npy` file stores them.
fn f8(values: &[f64]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}

/// The input files every case can name (relative to its folder).
pub fn files() -> Vec<(&'static str, Vec<u8>)> {
    vec![
        ("trunc.json", b"{\"strengths\": [1, 2], \"u\": [[1, 0], [0, 1]".to_vec()),
        ("typo.json", b"{\"strength\": [1], \"u\": [[1]]}".to_vec()),
        ("neg.json", b"{\"strengths\": [1, -2], \"u\": [[1, 0], [0, 1]]}".to_vec()),
        ("ragged.json", b"{\"strengths\": [1, 2], \"u\": [[1, 0], [0]]}".to_vec()),
        ("skew.json", b"{\"strengths\": [1, 2], \"u\": [[1, 0.2], [0, 1]]}".to_vec()),
        ("wide.json", b"{\"strengths\": [1, 1], \"u\": [[0.6, 0.8]]}".to_vec()),
        ("count.json", b"{\"strengths\": [1, 2, 3], \"u\": [[1, 0], [0, 1]]}".to_vec()),
        ("none.json", b"{\"strengths\": [], \"u\": []}".to_vec()),
        ("z0len.json", b"{\"strengths\": [1], \"u\": [[1]], \"z0\": [1, 2]}".to_vec()),
        ("vskew.json", b"{\"strengths\": [1], \"u\": [[1]], \"v\": [[1], [1]]}".to_vec()),
        ("vcols.json", b"{\"strengths\": [1], \"u\": [[1]], \"v\": [[1, 0], [0, 1]]}".to_vec()),
        ("empty.json", b"".to_vec()),
        ("key.json", b"{\"a\\nb\": 1}".to_vec()),
        ("latin1.json", b"{\"strengths\": [1], \"u\": [[1]], \"note\": \"caf\xe9\"}".to_vec()),
        ("nan.toml", b"strengths = [nan, 1.0]\nu = [[1.0, 0.0], [0.0, 1.0]]\n".to_vec()),
        ("inf.toml", b"strengths = [1.0]\nu = [[inf]]\n".to_vec()),
        ("z0nan.toml", b"strengths = [1.0]\nu = [[1.0]]\nz0 = [nan]\n".to_vec()),
        ("syntax.toml", b"strengths = [1.0\nu = [[1.0]]\n".to_vec()),
        ("bad.npz", b"PK\x03\x04 this is not a zip archive".to_vec()),
        ("obj.npy", npy("{'descr': '|O', 'fortran_order': False, 'shape': (2, 2), }", vec![0; 32])),
        ("r3.npy", npy("{'descr': '<f8', 'fortran_order': False, 'shape': (2, 2, 1), }", vec![0; 32])),
        ("trunc.npy", npy("{'descr': '<f8', 'fortran_order': False, 'shape': (2, 2), }", vec![0; 24])),
        ("huge.npy", npy("{'descr': '<f8', 'fortran_order': False, 'shape': (100000000, 100000000), }", vec![0; 8])),
        ("overflow.npy", npy("{'descr': '<f8', 'fortran_order': False, 'shape': (4294967296, 4294967296), }", vec![0; 8])),
        ("magic.npy", b"NUMPY\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00".to_vec()),
        ("v9.npy", b"\x93NUMPY\x09\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00".to_vec()),
        ("c16.npy", npy("{'descr': '<c16', 'fortran_order': False, 'shape': (2,), }", vec![0; 32])),
        ("nofortran.npy", npy("{'descr': '<f8', 'shape': (2,), }", vec![0; 16])),
        ("y22.npy", npy("{'descr': '<f8', 'fortran_order': False, 'shape': (2, 2), }", f8(&[1.0, -1.0, 1.0, -1.0]))),
        ("phi.csv", b"1,0\n0,1\n".to_vec()),
        ("y2.csv", b"1\n-1\n".to_vec()),
        ("word.csv", b"1,0\n0,1\n2,abc\n".to_vec()),
        ("raggedphi.csv", b"1,0,2\n0,1\n".to_vec()),
        ("blank.csv", b"".to_vec()),
        ("header.csv", b"x1,x2\n".to_vec()),
        ("infphi.csv", b"1,0,2\n0,inf,1\n".to_vec()),
        ("y3.csv", b"1\n-1\n1\n".to_vec()),
        ("ytwo.csv", b"y\n-1\n2\n".to_vec()),
        ("ymat.csv", b"1,-1\n-1,1\n".to_vec()),
        ("ymix.csv", b"0\n-1\n".to_vec()),
        ("k23.csv", b"1,0,0\n0,1,0\n".to_vec()),
        ("kasym.csv", b"2,1\n0,2\n".to_vec()),
        ("kneg.csv", b"1,0\n0,-5\n".to_vec()),
        ("dcols.csv", b"x1,x2,y\n0,1,1\n0,1\n".to_vec()),
        ("dnan.csv", b"0,1,1\n0,NaN,-1\n".to_vec()),
        ("dlabel.csv", b"0,1,1\n0,2,-1\n1,1,0\n".to_vec()),
        ("dempty.csv", b"x1,x2,y\n".to_vec()),
        ("done.csv", b"1\n-1\n".to_vec()),
    ]
}
