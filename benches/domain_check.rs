//! Benchmark: the domain check's cost per image, against its peer in the same run — the
//! model's own forward pass on the same image (what every analyzed image costs anyway).
//! Measured on the bundled demo pack's description (256 reference images per modality) and on
//! a ViT-B/32-sized description (512-dimensional features, 256 references) built from random
//! unit vectors. Median of 200 checks; the appearance vector (resize + blurs) is timed apart.
//! Usage: `cargo bench --bench domain_check`.

use std::time::{Duration, Instant};

use fovea::analysis::appearance::appearance;
use fovea::analysis::domain::{DomainCheck, DomainSample, DomainSplit, fit_domain};
use fovea::encoder::device::DeviceChoice;
use fovea::encoder::pack::read_manifest;
use fovea::encoder::session::EncoderSession;
use fovea::study::Modality;
use rand::{Rng, SeedableRng};

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() / 2]
}

fn time(runs: usize, mut f: impl FnMut()) -> Duration {
    median(
        (0..runs)
            .map(|_| {
                let t = Instant::now();
                f();
                t.elapsed()
            })
            .collect(),
    )
}

fn unit(rng: &mut rand_chacha::ChaCha8Rng, dim: usize) -> Vec<f32> {
    let v: Vec<f32> = (0..dim).map(|_| rng.random::<f32>() - 0.5).collect();
    let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    v.iter().map(|x| x / n).collect()
}

fn main() -> anyhow::Result<()> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let pack = root.join("models/demo");
    let manifest = read_manifest(&pack)?;
    let check = DomainCheck::new(manifest.domain.as_ref())?;
    anyhow::ensure!(
        check.is_described(),
        "the demo pack has no domain description"
    );
    let photo = image::open(root.join("tests/data/reference/preprocess_photo.png"))?.to_rgb8();
    let session = EncoderSession::open(&pack, DeviceChoice::Cpu)?;
    let features = session.photo_features(&photo, true)?;
    let looks = appearance(&photo);
    let demo_check = time(200, || {
        std::hint::black_box(check.check(&features, &looks, Modality::ColourFundus));
    });
    let appearance_time = time(50, || {
        std::hint::black_box(appearance(&photo));
    });
    let camera = image::RgbImage::from_fn(3872, 2592, |x, y| {
        image::Rgb([(x % 251) as u8, (y % 241) as u8, ((x + y) % 239) as u8])
    });
    let camera_time = time(20, || {
        std::hint::black_box(appearance(&camera));
    });
    let forward = time(10, || {
        std::hint::black_box(session.photo_features(&photo, true).ok());
    });
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(5);
    let sample = |rng: &mut rand_chacha::ChaCha8Rng| DomainSample {
        features: unit(rng, 512),
        appearance: (0..20).map(|_| rng.random::<f32>()).collect(),
    };
    let split = DomainSplit {
        reference: (0..400).map(|_| sample(&mut rng)).collect(),
        held_out: (0..200).map(|_| sample(&mut rng)).collect(),
    };
    let (big, _) = fit_domain(
        [(Modality::ColourFundus, split)].into_iter().collect(),
        "bench",
    );
    let big_check = DomainCheck::new(Some(&big))?;
    let probe = sample(&mut rng);
    let b32_check = time(200, || {
        std::hint::black_box(big_check.check(
            &probe.features,
            &probe.appearance,
            Modality::ColourFundus,
        ));
    });
    println!("domain check, demo pack (64-d features, 256 references): {demo_check:?} per image");
    println!(
        "domain check, ViT-B/32 size (512-d features, 256 references): {b32_check:?} per image"
    );
    println!(
        "appearance vector of a {}×{} photo: {appearance_time:?}",
        photo.width(),
        photo.height()
    );
    println!("appearance vector of a 3872×2592 camera frame: {camera_time:?}");
    println!("peer: the demo model's forward pass on the same photo (two views, CPU): {forward:?}");
    Ok(())
}
