//! Heidelberg Spectralis `.vol` exports: the real samples (`../shared/data/real/vol`, skipped
//! when absent) open as an OD OCT volume with its SLO localizer, the B-scan's line inside the
//! SLO and the vendor's layers within the B-scan's rows; synthetic multi-B-scan volumes round
//! trip (write → scan → decode → equal pixels, lines and layers); damaged files are refused with
//! a reason and the rest of the folder still opens.

use fovea::study::heidelberg_vol::{VolFile, display_u16, read};
use fovea::study::model::{Eye, ImageRecord, Modality};
use fovea::study::pixels::{Samples, decode_image};
use fovea::study::scan_paths;
use fovea::synth::vol_writer::{VolumeShape, write_vol};

fn records(catalog: &fovea::study::model::Catalog) -> Vec<&ImageRecord> {
    catalog.patients.iter().flat_map(|p| p.images()).collect()
}

#[test]
fn the_real_vol_files_open_as_od_oct_with_an_slo_localizer_and_vendor_layers() {
    let Some(dir) = crate::support::real_material("vol") else {
        return;
    };
    for name in ["valid.vol", "spectralis_716_0.vol"] {
        let path = dir.join(name);
        let catalog = scan_paths(std::slice::from_ref(&path));
        assert!(
            catalog.unreadable.is_empty(),
            "{name}: {:?}",
            catalog.unreadable
        );
        let images = records(&catalog);
        assert_eq!(images.len(), 2, "{name}: an OCT volume and its SLO");
        let oct = images
            .iter()
            .find(|r| r.modality == Modality::Oct)
            .expect("an OCT image");
        let slo = images
            .iter()
            .find(|r| r.modality == Modality::SloIr)
            .expect("an SLO image");
        assert_eq!((oct.eye, slo.eye), (Eye::Right, Eye::Right), "{name}");
        assert_ne!(
            oct.source.path(),
            slo.source.path(),
            "two images, two identities"
        );
        assert_eq!(oct.source.file(), slo.source.file(), "one file");
        assert_eq!((oct.columns, oct.rows, oct.frames), (768, 496, 1));
        assert_eq!((slo.columns, slo.rows), (768, 768));
        let spacing = oct.pixel_spacing_mm.expect("ScaleX/ScaleZ");
        assert!((spacing.row_mm - 0.003_871_67).abs() < 1e-6, "ScaleZ");
        let localizer = oct.localizer.as_ref().expect("a localizer reference");
        assert_eq!(
            Some(localizer.sop_instance_uid.as_str()),
            slo.source.instance_uid()
        );
        let line = &localizer.bscan_locations[0].points;
        for p in line {
            assert!(
                (0.0..=768.0).contains(&p.x) && (0.0..=768.0).contains(&p.y),
                "{name}: the B-scan line lies inside the SLO: {line:?}"
            );
        }
        assert!(oct.acquisition_datetime.is_some(), "{name}: the exam time");
        let decoded = decode_image(oct).expect("B-scans decode");
        let layers = &decoded.vendor_layers[0];
        assert_eq!(layers.len(), 3, "{name}: ILM, BM, RNFL");
        assert_eq!(layers[0].name, "ILM");
        let present: Vec<f32> = layers
            .iter()
            .flat_map(|l| l.rows.iter().flatten().copied())
            .collect();
        assert!(!present.is_empty());
        assert!(
            present.iter().all(|r| (0.0..496.0).contains(r)),
            "{name}: boundaries within the B-scan's rows"
        );
        let slo_pixels = decode_image(slo).expect("SLO decodes");
        assert_eq!(slo_pixels.samples.len(), 768 * 768);
    }
    let odd = read(&dir.join("spectralis_716_0.vol")).expect("132 trailing bytes are tolerated");
    assert_eq!(odd.header.patient_id, "01234");
    assert!(
        odd.bscans[0].layers[2].iter().all(Option::is_none),
        "one boundary is absent everywhere in this file"
    );
    let valid = read(&dir.join("valid.vol")).expect("reads");
    assert_eq!(
        valid.header.scan_pattern, 2,
        "a circle scan around the disc"
    );
    let catalog = scan_paths(&[dir.join("valid.vol")]);
    let circle = records(&catalog)
        .into_iter()
        .find(|r| r.modality == Modality::Oct)
        .and_then(|r| r.localizer.clone())
        .expect("localizer");
    assert!(
        circle.bscan_locations[0].points.len() > 10,
        "the circle scan is drawn as a circle on the SLO, not as a line to its centre"
    );
    assert_eq!(
        valid.header.exam_datetime.as_deref().map(|t| &t[..10]),
        Some("2011-11-09")
    );
}

/// A synthetic OS volume of 5 B-scans with two boundaries (one with gaps).
fn synthetic_volume() -> VolFile {
    fovea::synth::vol_writer::synthetic_volume(&VolumeShape {
        size_x: 64,
        size_z: 48,
        bscans: 5,
        layers: 2,
        invalid_every: 97,
        scale_x_mm: 0.05,
        distance_mm: 0.2,
        slo_px: 80,
        slo_scale_mm: 0.05,
        eye: "OS",
        patient_id: "VOL-SYN-1",
    })
}

#[test]
fn synthetic_volumes_round_trip_through_scan_and_decode() {
    let dir = tempfile::tempdir().expect("tmp");
    let volume = synthetic_volume();
    let path = dir.path().join("scan.vol");
    write_vol(&path, &volume).expect("write");
    let read_back = read(&path).expect("reads");
    assert_eq!(read_back.slo, volume.slo);
    assert_eq!(read_back.bscans, volume.bscans, "values, lines, layers");

    let catalog = scan_paths(&[dir.path().to_path_buf()]);
    assert_eq!(catalog.patients.len(), 1);
    let patient = &catalog.patients[0];
    assert_eq!(patient.info.id, "VOL-SYN-1");
    assert_eq!(patient.info.birth_date.as_deref(), Some("19600203"));
    assert_eq!(patient.studies[0].info.date.as_deref(), Some("20260115"));
    let images: Vec<&ImageRecord> = patient.images().collect();
    let oct = images
        .iter()
        .find(|r| r.modality == Modality::Oct)
        .expect("OCT");
    assert_eq!((oct.eye, oct.frames), (Eye::Left, 5));
    let lines = &oct.localizer.as_ref().expect("localizer").bscan_locations;
    assert_eq!(lines.len(), 5);
    assert!(
        (lines[2].points[0].x - 10.0).abs() < 1e-9,
        "0.5 mm / 0.05 mm per pixel"
    );
    assert!(
        (lines[2].points[0].y - 18.0).abs() < 1e-9,
        "(0.5 + 0.4) mm / 0.05"
    );
    let decoded = decode_image(oct).expect("decodes");
    let Samples::U16(samples) = &decoded.samples else {
        panic!("16-bit display samples")
    };
    let want: Vec<u16> = volume
        .bscans
        .iter()
        .flat_map(|b| b.values.iter().map(|v| display_u16(*v)))
        .collect();
    assert_eq!(samples, &want, "every B-scan's pixels");
    assert_eq!(samples[0], 0, "an invalid sample is black");
    assert_eq!(decoded.vendor_layers.len(), 5);
    assert_eq!(decoded.vendor_layers[3][1].rows, volume.bscans[3].layers[1]);
}

#[test]
fn a_truncated_vol_is_refused_with_its_sizes_and_the_folder_still_opens() {
    let dir = tempfile::tempdir().expect("tmp");
    let volume = synthetic_volume();
    let whole = fovea::synth::vol_writer::vol_bytes(&volume);
    std::fs::write(dir.path().join("whole.vol"), &whole).expect("write");
    std::fs::write(dir.path().join("cut.vol"), &whole[..whole.len() - 100]).expect("write");
    std::fs::write(dir.path().join("header-only.vol"), &whole[..1000]).expect("write");
    let catalog = scan_paths(&[dir.path().to_path_buf()]);
    assert_eq!(catalog.image_count(), 2, "the whole file's OCT and SLO");
    assert_eq!(catalog.unreadable.len(), 2, "{:?}", catalog.unreadable);
    for file in &catalog.unreadable {
        assert!(
            file.reason.contains("truncated") || file.reason.contains("2048-byte header"),
            "{}: {}",
            file.path.display(),
            file.reason
        );
    }
}
