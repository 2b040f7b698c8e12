//! Benchmark: the case library's nearest-neighbour search at scale. Synthetic libraries of
//! clustered, normalised 512-d vectors (1,024 clusters, noise as large as the centre, so a
//! vector's cosine to its cluster centre is ≈ 0.7 — embeddings are clustered by finding and
//! modality, uniform random vectors would not be). For each size: exact search latency (the
//! mode used up to `EXACT_SEARCH_MAX`), USearch HNSW build time on all cores, file size, and
//! top-10 latency (one query at a time) and recall@10 against exact search at several `ef`.
//! Writes the vectors, queries and exact neighbours under `$OUT` (default /tmp/fovea-ann) for
//! `benches/faiss_ann.py`, which times FAISS on the same vectors in the same run
//! (`benches/run_library_ann.sh`).
//!
//! Usage: `library_ann [100000,1000000] [queries]`

mod common;

use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

use fovea::library::index::{ExactIndex, HnswIndex, HnswParams};
use rand::{Rng, SeedableRng};

const DIM: usize = 512;
const CLUSTERS: usize = 1024;
const K: usize = 10;

fn normal(rng: &mut impl Rng) -> f32 {
    // Box–Muller.
    let u: f64 = rng.random_range(f64::EPSILON..1.0);
    let v: f64 = rng.random();
    ((-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()) as f32
}

fn normalise(v: &mut [f32]) {
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-12);
    v.iter_mut().for_each(|x| *x /= norm);
}

/// `n` clustered unit vectors, row-major.
fn vectors(n: usize, centres: &[f32], seed: u64) -> Vec<f32> {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let mut out = vec![0.0_f32; n * DIM];
    let scale = 1.0 / (DIM as f32).sqrt();
    for row in out.chunks_mut(DIM) {
        let c = rng.random_range(0..CLUSTERS);
        let centre = &centres[c * DIM..(c + 1) * DIM];
        for (x, m) in row.iter_mut().zip(centre) {
            *x = m + normal(&mut rng) * scale;
        }
        normalise(row);
    }
    out
}

fn write_f32(path: &PathBuf, values: &[f32]) -> std::io::Result<()> {
    let mut file = std::io::BufWriter::new(std::fs::File::create(path)?);
    for v in values {
        file.write_all(&v.to_le_bytes())?;
    }
    file.flush()
}

fn percentile(mut ms: Vec<f64>, p: f64) -> f64 {
    ms.sort_by(f64::total_cmp);
    ms[((ms.len() - 1) as f64 * p).round() as usize]
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    let sizes: Vec<usize> = args
        .first()
        .map_or("100000,1000000", String::as_str)
        .split(',')
        .filter_map(|s| s.parse().ok())
        .collect();
    let queries_n: usize = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(300);
    let out = PathBuf::from(std::env::var("OUT").unwrap_or_else(|_| "/tmp/fovea-ann".into()));
    std::fs::create_dir_all(&out)?;
    let threads = std::thread::available_parallelism().map_or(2, usize::from);
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(2026);
    let mut centres = vec![0.0_f32; CLUSTERS * DIM];
    for row in centres.chunks_mut(DIM) {
        row.iter_mut().for_each(|x| *x = normal(&mut rng));
        normalise(row);
    }
    let queries = vectors(queries_n, &centres, 99);
    write_f32(&out.join("queries.f32"), &queries)?;
    println!(
        "USearch {} on {threads} threads; {queries_n} queries, top-{K}",
        usearch::version()
    );
    println!("| vectors | search | build s | file MB | ef | p50 ms | p99 ms | recall@10 |");
    println!("|---|---|---|---|---|---|---|---|");
    for &n in &sizes {
        let data = vectors(n, &centres, n as u64);
        write_f32(&out.join(format!("vectors_{n}.f32")), &data)?;
        let keys: Vec<u64> = (0..n as u64).collect();
        let exact = ExactIndex::new(DIM, keys.clone(), &data);
        let mut truth = Vec::with_capacity(queries_n * K);
        let mut exact_ms = Vec::with_capacity(queries_n);
        for q in queries.chunks(DIM) {
            let start = Instant::now();
            let hits = exact.search(q, K, &|_| true);
            exact_ms.push(start.elapsed().as_secs_f64() * 1e3);
            truth.extend(hits.iter().map(|h| h.key));
        }
        drop(exact);
        let truth_bytes: Vec<u8> = truth.iter().flat_map(|k| k.to_le_bytes()).collect();
        std::fs::write(out.join(format!("truth_{n}.u64")), truth_bytes)?;
        println!(
            "| {n} | exact (Fovea, 1 thread) | – | {:.0} | – | {:.2} | {:.2} | 1.000 |",
            (n * DIM * 4) as f64 / 1e6,
            percentile(exact_ms.clone(), 0.5),
            percentile(exact_ms, 0.99)
        );
        let start = Instant::now();
        let hnsw = HnswIndex::build(DIM, &keys, &data, HnswParams::default(), threads)?;
        let build_s = start.elapsed().as_secs_f64();
        drop(data);
        let file = out.join(format!("index_{n}.usearch"));
        hnsw.save(&file)?;
        let file_mb = std::fs::metadata(&file).map_or(0.0, |m| m.len() as f64 / 1e6);
        for ef in [32, 64, 128, 256] {
            hnsw.set_expansion_search(ef);
            let mut ms = Vec::with_capacity(queries_n);
            let mut found = 0;
            for (qi, q) in queries.chunks(DIM).enumerate() {
                let start = Instant::now();
                let hits = hnsw.search(q, K, &|_| true)?;
                ms.push(start.elapsed().as_secs_f64() * 1e3);
                let expected = &truth[qi * K..(qi + 1) * K];
                found += hits.iter().filter(|h| expected.contains(&h.key)).count();
            }
            println!(
                "| {n} | HNSW (USearch, M 16, efC 128) | {build_s:.1} | {file_mb:.0} | {ef} | {:.3} | {:.3} | {:.3} |",
                percentile(ms.clone(), 0.5),
                percentile(ms, 0.99),
                found as f64 / (queries_n * K) as f64
            );
        }
        let _ = std::fs::remove_file(&file);
    }
    Ok(())
}
