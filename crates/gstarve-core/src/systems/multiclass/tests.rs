use nalgebra::{DMatrix, DVector};

use super::*;
use crate::systems::orthonormality_deviation;

fn is_input(e: &Error) -> bool {
    matches!(e, Error::Input(_))
}

#[test]
fn labels_decide_binary_or_multiclass_by_the_documented_rule() {
    // ±1 and 0/1 stay binary unless classes are asked for.
    assert_eq!(class_labels(&[1.0, -1.0, 1.0], None).unwrap(), None);
    assert_eq!(class_labels(&[0.0, 1.0, 1.0], None).unwrap(), None);
    assert_eq!(
        class_labels(&[0.0, 1.0, 1.0], Some(2)).unwrap(),
        Some((2, vec![0, 1, 1]))
    );
    // A label ≥ 2 infers c = max + 1.
    assert_eq!(
        class_labels(&[0.0, 2.0, 1.0], None).unwrap(),
        Some((3, vec![0, 2, 1]))
    );
    assert_eq!(
        class_labels(&[0.0, 2.0], Some(5)).unwrap(),
        Some((5, vec![0, 2]))
    );
    let bad = class_labels(&[0.0, 3.0, 1.0], Some(3)).unwrap_err();
    assert_eq!(
        bad.to_string(),
        "label y_2 = 3 is invalid: a system with 3 classes needs integer labels in 0..2"
    );
    assert!(class_labels(&[0.0, 2.0, 1.5], None)
        .unwrap_err()
        .to_string()
        .contains("y_3 = 1.5"));
    assert!(class_labels(&[-1.0, 2.0], None)
        .unwrap_err()
        .to_string()
        .contains("y_1 = -1"));
    let one = class_labels(&[0.0, 0.0], Some(1)).unwrap_err();
    assert!(one.to_string().contains("at least 2 classes"), "{one}");
    assert!(class_labels(&[0.0, 1e12], None).is_err());
}

#[test]
fn construction_checks_rows_labels_and_classes() {
    let system = FeatureSystem::random(
        6,
        crate::systems::Spectrum::Geometric { from: 2.0, to: 1.0 },
        1,
    )
    .unwrap();
    let ok = MulticlassSystem::new(system.clone(), 3, vec![0, 2]).unwrap();
    assert_eq!((ok.examples(), ok.classes(), ok.rank()), (2, 3, 6));
    assert_eq!(ok.empty_classes(), vec![1]);
    assert_eq!(
        ok.targets(),
        DVector::from_vec(vec![1.0, 0.0, 0.0, 0.0, 0.0, 1.0])
    );
    let rows = MulticlassSystem::new(system.clone(), 2, vec![0, 1]).unwrap_err();
    assert!(
        rows.to_string()
            .contains("rows of the coupling U: 6 given, 4 expected"),
        "{rows}"
    );
    assert!(is_input(
        &MulticlassSystem::new(system.clone(), 3, vec![0, 3]).unwrap_err()
    ));
    assert!(is_input(
        &MulticlassSystem::new(system, 1, vec![0; 6]).unwrap_err()
    ));
}

/// Φ with n rows means Φ ⊗ I_c: the same system as the explicit n·c-row Kronecker product, up to
/// the order of equal strengths and the orientation; and the n × n kernel ΦΦᵀ gives it too.
#[test]
fn shared_features_and_kernels_expand_by_the_kronecker_product() {
    let (n, p, c) = (4, 6, 3);
    let phi = DMatrix::from_fn(n, p, |i, j| {
        ((i * 5 + j * 3) % 7) as f64 / 7.0 - 0.4 + 0.1 * f64::from(u8::from(i == j))
    });
    let labels = vec![0, 2, 1, 2];
    let shared = MulticlassSystem::from_features(&phi, labels.clone(), c).unwrap();
    let kron = DMatrix::from_fn(n * c, p * c, |row, col| {
        if row % c == col % c {
            phi[(row / c, col / c)]
        } else {
            0.0
        }
    });
    let explicit = MulticlassSystem::from_features(&kron, labels.clone(), c).unwrap();
    assert_eq!(shared.rank(), n * c);
    // Same projector U Uᵀ and same weighted projector U S² Uᵀ (= Φ Φᵀ ⊗ I).
    for sys in [&shared, &explicit] {
        let u = sys.system().coupling();
        assert!(orthonormality_deviation(u) < 1e-12);
        let k = sys.system().gram();
        assert!((k - &kron * kron.transpose()).amax() < 1e-12);
        // Orientation: every initial drive (Uᵀ vec(Y − 1/c))_j ≥ 0.
        let drive = u.tr_mul(&sys.targets().map(|y| y - 1.0 / c as f64));
        assert!(drive.iter().all(|&d| d >= 0.0));
    }
    let theta = &phi * phi.transpose();
    let (from_kernel, t) = MulticlassSystem::from_kernel(&theta, labels.clone(), c, 1e-12).unwrap();
    assert!((from_kernel.system().gram() - &kron * kron.transpose()).amax() < 1e-12);
    assert_eq!(t.dropped_features, 0);
    let wrong =
        MulticlassSystem::from_features(&phi.rows(0, 3).into_owned(), labels, c).unwrap_err();
    assert!(wrong.to_string().contains("n·c rows"), "{wrong}");
}

#[test]
fn the_binary_image_has_orthonormal_columns_and_halved_squared_strengths() {
    let binary = FeatureSystem::rotation(4.0, 2.0, 0.5).unwrap();
    let image = MulticlassSystem::binary_image(&binary, Some(&[1.0, -1.0])).unwrap();
    assert_eq!(image.labels(), &[1, 0]);
    assert!(orthonormality_deviation(image.system().coupling()) < 1e-15);
    let s2 = image.system().strengths_squared();
    assert!((s2 - binary.strengths_squared() / 2.0).amax() < 1e-14);
}

#[test]
fn files_round_trip_and_reject_bad_input() {
    let dir = std::env::temp_dir().join(format!("gstarve-mc-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let binary = FeatureSystem::rotation(3.0, 1.0, 0.3).unwrap();
    let image = MulticlassSystem::binary_image(&binary, None).unwrap();
    for name in ["mc.json", "mc.toml"] {
        let path = dir.join(name);
        image.save(&path, None).unwrap();
        let (back, z0) = MulticlassSystem::load_if_multiclass(&path)
            .unwrap()
            .unwrap();
        assert_eq!(back, image);
        assert!(z0.is_none());
    }
    let plain = dir.join("binary.json");
    binary.save(&plain).unwrap();
    assert!(MulticlassSystem::load_if_multiclass(&plain)
        .unwrap()
        .is_none());
    let write = |text: &str| {
        let path = dir.join("bad.json");
        std::fs::write(&path, text).unwrap();
        MulticlassSystem::load_if_multiclass(&path)
            .unwrap_err()
            .to_string()
    };
    let msg =
        write(r#"{"classes": 2, "labels": [0, 2], "strengths": [1], "u": [[1],[0],[0],[0]]}"#);
    assert!(msg.contains("label y_2 = 2"), "{msg}");
    let msg = write(r#"{"classes": 1, "labels": [0], "strengths": [1], "u": [[1]]}"#);
    assert!(msg.contains("at least 2 classes"), "{msg}");
    let msg = write(r#"{"classes": 2, "labels": [0, 1], "strengths": [1], "u": [[1],[0],[0]]}"#);
    assert!(msg.contains("rows of u: 3 given, 4 expected"), "{msg}");
    std::fs::remove_dir_all(&dir).ok();
}
