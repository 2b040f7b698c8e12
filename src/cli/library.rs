//! `fovea library build|add|info|search|evaluate`: the case library from the command line.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};
use serde::Serialize;

use super::analyze::default_pack;
use crate::analysis::engine::{Analyzer, PatientResult};
use crate::analysis::zero_shot::ZeroShot;
use crate::encoder::device::DeviceChoice;
use crate::encoder::session::EncoderSession;
use crate::library::build::{BuildProgress, add_catalog, create_library};
use crate::library::labels::Labels;
use crate::library::search::{Filter, Searcher, aggregate};
use crate::library::{Library, LibraryMeta};
use crate::study::{Eye, Modality, scan_paths};

/// Where the pack and device come from.
#[derive(Debug, clap::Args)]
pub struct PackArgs {
    /// The model pack (default: the bundled demo model). Must be the library's own pack.
    #[arg(long)]
    pub pack: Option<PathBuf>,
    /// Where to run the model.
    #[arg(long, value_enum, default_value_t = DeviceChoice::Auto)]
    pub device: DeviceChoice,
}

/// `fovea library …`
#[derive(Debug, clap::Subcommand)]
pub enum LibraryCommand {
    /// Build a new library from studies with known findings.
    Build {
        /// Folders, DICOM files, DICOMDIRs or plain images.
        #[arg(required = true)]
        studies: Vec<PathBuf>,
        /// The new library's folder (must not exist or be empty).
        #[arg(long)]
        out: PathBuf,
        /// Known findings: ground_truth.json or a CSV `patient_id,eye,findings` (default:
        /// one of those in the first studies folder).
        #[arg(long)]
        labels: Option<PathBuf>,
        /// Store patient ids in the library (off: only derived case ids are stored).
        #[arg(long)]
        keep_identifiers: bool,
        /// Pack and device.
        #[command(flatten)]
        pack: PackArgs,
    },
    /// Add studies to an existing library (same pack; files already in it are skipped).
    Add {
        /// The library.
        library: PathBuf,
        /// Folders, DICOM files, DICOMDIRs or plain images.
        #[arg(required = true)]
        studies: Vec<PathBuf>,
        /// Known findings (as for `build`).
        #[arg(long)]
        labels: Option<PathBuf>,
        /// Pack and device.
        #[command(flatten)]
        pack: PackArgs,
    },
    /// Describe a library: its pack, size, findings, index.
    Info {
        /// The library.
        library: PathBuf,
    },
    /// Find the most similar reference cases to an image, an eye or a typed finding.
    Search {
        /// The library.
        library: PathBuf,
        /// An image file (DICOM or plain) to search with.
        #[arg(long, conflicts_with = "text")]
        image: Option<PathBuf>,
        /// A finding in words ("hard exudates near the fovea") to search images with.
        #[arg(long)]
        text: Option<String>,
        /// Search eyes with the image's eye (all of that eye's images in the image's folder
        /// are fused), instead of images.
        #[arg(long)]
        eye_level: bool,
        /// How many cases.
        #[arg(long, default_value_t = 10)]
        k: usize,
        /// Image search: any modality (default: the query's modality).
        #[arg(long)]
        any_modality: bool,
        /// Only this eye (OD or OS).
        #[arg(long)]
        eye: Option<String>,
        /// Only cases with this finding id.
        #[arg(long)]
        finding: Option<String>,
        /// JSON instead of a table.
        #[arg(long)]
        json: bool,
        /// Pack and device.
        #[command(flatten)]
        pack: PackArgs,
    },
    /// Precision@k of retrieval on labelled query studies (not in the library).
    Evaluate {
        /// The library.
        library: PathBuf,
        /// Query studies.
        #[arg(required = true)]
        studies: Vec<PathBuf>,
        /// Their known findings (as for `build`).
        #[arg(long)]
        labels: Option<PathBuf>,
        /// Hits per query.
        #[arg(long, default_value_t = 5)]
        k: usize,
        /// JSON instead of text.
        #[arg(long)]
        json: bool,
        /// Pack and device.
        #[command(flatten)]
        pack: PackArgs,
    },
}

/// Runs the command.
pub fn run(command: &LibraryCommand) -> anyhow::Result<ExitCode> {
    match command {
        LibraryCommand::Build {
            studies,
            out,
            labels,
            keep_identifiers,
            pack,
        } => {
            let labels = read_labels(labels.as_deref(), studies)?;
            let analyzer = open_analyzer(pack)?;
            let mut library = create_library(out, &analyzer, &labels, *keep_identifiers, None)?;
            add(&mut library, &analyzer, studies, &labels)
        }
        LibraryCommand::Add {
            library,
            studies,
            labels,
            pack,
        } => {
            let mut library = Library::open(library)?;
            let labels = read_labels(labels.as_deref(), studies)?;
            let analyzer = open_analyzer(pack)?;
            add(&mut library, &analyzer, studies, &labels)
        }
        LibraryCommand::Info { library } => info(library),
        LibraryCommand::Search {
            library,
            image,
            text,
            eye_level,
            k,
            any_modality,
            eye,
            finding,
            json,
            pack,
        } => {
            let eye = eye.as_deref().map(parse_eye).transpose()?;
            let filter = Filter {
                modality: None,
                eye,
                finding: finding.clone(),
            };
            let query = Query {
                image: image.as_deref(),
                text: text.as_deref(),
                eye_level: *eye_level,
                any_modality: *any_modality,
            };
            search(library, &query, *k, filter, *json, pack)
        }
        LibraryCommand::Evaluate {
            library,
            studies,
            labels,
            k,
            json,
            pack,
        } => evaluate(library, studies, labels.as_deref(), *k, *json, pack),
    }
}

fn parse_eye(text: &str) -> anyhow::Result<Eye> {
    match text.to_ascii_uppercase().as_str() {
        "OD" | "R" | "RIGHT" => Ok(Eye::Right),
        "OS" | "L" | "LEFT" => Ok(Eye::Left),
        other => bail!("--eye {other}: use OD or OS"),
    }
}

fn read_labels(labels: Option<&Path>, studies: &[PathBuf]) -> anyhow::Result<Labels> {
    let found = match (labels, studies.first()) {
        (Some(file), _) => Labels::read(file)?,
        (None, Some(first)) => Labels::find(first)?,
        (None, None) => bail!("no studies given"),
    };
    Ok(found)
}

fn open_analyzer(args: &PackArgs) -> anyhow::Result<Analyzer> {
    let pack = args.pack.clone().unwrap_or_else(default_pack);
    let session = EncoderSession::open(&pack, args.device)
        .with_context(|| format!("opening the model pack {}", pack.display()))?;
    super::note(session.device_choice());
    if let Some(notice) = session.device_notice() {
        log::warn!("{notice}");
    }
    Ok(Analyzer::new(session)?)
}

/// The library and an analyzer on its own pack (another pack is refused by name).
fn open_with_pack(dir: &Path, pack: &PackArgs) -> anyhow::Result<(Library, Analyzer)> {
    let library = Library::open_read_only(dir)?;
    let analyzer = open_analyzer(pack)?;
    let stamp = analyzer.stamp();
    library.check_pack(&stamp.name, &stamp.weights_sha256)?;
    Ok((library, analyzer))
}

#[allow(clippy::print_stderr)]
fn add(
    library: &mut Library,
    analyzer: &Analyzer,
    studies: &[PathBuf],
    labels: &Labels,
) -> anyhow::Result<ExitCode> {
    let catalog = scan_paths(studies);
    let started = std::time::Instant::now();
    let report = add_catalog(
        library,
        analyzer,
        &catalog,
        labels,
        &mut |p: BuildProgress| {
            eprintln!("added {}/{} patients", p.done, p.total);
        },
    )?;
    for line in &report.skipped {
        eprintln!("skipped: {line}");
    }
    println!(
        "{}: {} patients, {} images and {} eyes added ({} already there) in {:.1} s",
        library.dir().display(),
        report.patients,
        report.added.images,
        report.added.eyes,
        report.added.duplicates,
        started.elapsed().as_secs_f64()
    );
    Ok(if report.skipped.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(2)
    })
}

fn info(dir: &Path) -> anyhow::Result<ExitCode> {
    let library = Library::open_read_only(dir)?;
    let searcher = Searcher::open(&library)?;
    let meta = library.meta();
    let (images, eyes) = searcher.counts();
    let (image_index, eye_index) = searcher.index_kinds();
    println!("case library {}", dir.display());
    println!("  {}", pack_line(meta));
    println!("  {images} images ({image_index} search), {eyes} eyes ({eye_index} search)");
    println!("  findings: {}", meta.finding_ids.join(", "));
    println!(
        "  identifiers: {}",
        if meta.keep_identifiers {
            "patient ids kept (asked for at build time)"
        } else {
            "none stored; case ids are derived"
        }
    );
    Ok(ExitCode::SUCCESS)
}

fn pack_line(meta: &LibraryMeta) -> String {
    let short: String = meta.pack_sha256.chars().take(12).collect();
    let mut line = format!(
        "embedded with {} v{} (weights {short})",
        meta.pack_name, meta.pack_version
    );
    if meta.synthetic_pack {
        line.push_str(" — trained on synthetic data only, not for clinical use");
    }
    line
}

struct Query<'a> {
    image: Option<&'a Path>,
    text: Option<&'a str>,
    eye_level: bool,
    any_modality: bool,
}

#[derive(Serialize)]
struct SearchOutput {
    library: String,
    model: String,
    query: String,
    level: &'static str,
    hits: Vec<HitRow>,
    aggregates: Vec<String>,
    model_probabilities: Vec<String>,
}

#[derive(Serialize)]
struct HitRow {
    rank: usize,
    similarity: f32,
    case_id: String,
    eye: Eye,
    modalities: Vec<Modality>,
    findings: Vec<String>,
}

fn same_file(a: &Path, b: &Path) -> bool {
    a == b
        || matches!(
            (std::fs::canonicalize(a), std::fs::canonicalize(b)),
            (Ok(x), Ok(y)) if x == y
        )
}

/// The result of the patient that `image` belongs to, scanning `folder` (the image itself,
/// or its folder when its eye's other images are wanted too).
fn analyze_one(analyzer: &Analyzer, folder: &Path, image: &Path) -> anyhow::Result<PatientResult> {
    let catalog = scan_paths(&[folder.to_path_buf()]);
    if let Some(file) = catalog
        .unreadable
        .iter()
        .find(|f| same_file(&f.path, image))
    {
        bail!("{}: {}", file.path.display(), file.reason);
    }
    let Some(patient) = catalog
        .patients
        .iter()
        .find(|p| p.images().any(|i| same_file(i.source.path(), image)))
    else {
        bail!("{}: not an image Fovea can read", image.display());
    };
    Ok(analyzer.analyze_patient(patient)?)
}

fn search(
    dir: &Path,
    query: &Query<'_>,
    k: usize,
    mut filter: Filter,
    json: bool,
    pack: &PackArgs,
) -> anyhow::Result<ExitCode> {
    let (library, analyzer) = open_with_pack(dir, pack)?;
    let stamp = analyzer.stamp().clone();
    let searcher = Searcher::open(&library)?;
    let meta = library.meta();
    let mut model_probabilities = Vec::new();
    let (label, level, rows): (String, &'static str, Vec<HitRow>) = match (query.image, query.text)
    {
        (_, Some(text)) => {
            ZeroShot::new(analyzer.session())?;
            let vectors = analyzer.session().text_vectors(&[text])?;
            let vector = vectors.first().map(|v| v.image.clone()).unwrap_or_default();
            let hits = searcher.similar_images(&vector, k, &filter)?;
            let rows = image_rows(&hits);
            (format!("text \"{text}\""), "image", rows)
        }
        (Some(image), None) => {
            let folder = if query.eye_level {
                image.parent().unwrap_or(image)
            } else {
                image
            };
            let result = analyze_one(&analyzer, folder, image)?;
            let Some(found) = result.images.iter().find(|i| same_file(&i.path, image)) else {
                bail!("{}: not found among the scanned images", image.display());
            };
            if let Some(error) = &found.error {
                bail!("{}: {error}", image.display());
            }
            if query.eye_level {
                let Some(eye) = result.eye(found.eye) else {
                    bail!("{}: its eye is not known (OD/OS)", image.display());
                };
                let Some(fused) = &eye.fused else {
                    bail!(
                        "{} eye: {}",
                        eye.eye.label(),
                        eye.note.clone().unwrap_or_default()
                    );
                };
                for f in &eye.findings {
                    model_probabilities.push(format!("{}: {:.2}", f.name, f.probability));
                }
                let hits = searcher.similar_eyes(fused, k, &filter)?;
                let rows = hit_rows(&hits, |r| {
                    (&r.case_id, r.eye, r.modalities.clone(), &r.findings)
                });
                (
                    format!("{} eye of {}", eye.eye.label(), folder.display()),
                    "eye",
                    rows,
                )
            } else {
                let Some(vector) = &found.vector else {
                    let reasons = found
                        .quality
                        .as_ref()
                        .map(|q| q.reasons.join("; "))
                        .unwrap_or_default();
                    bail!("{}: ungradable ({reasons})", image.display());
                };
                if !query.any_modality {
                    filter.modality = Some(found.modality);
                }
                for f in &found.findings {
                    model_probabilities.push(format!("{}: {:.2}", f.name, f.probability));
                }
                let hits = searcher.similar_images(vector, k, &filter)?;
                (image.display().to_string(), "image", image_rows(&hits))
            }
        }
        (None, None) => bail!("give --image FILE or --text \"…\""),
    };
    let findings: Vec<&[String]> = rows.iter().map(|r| r.findings.as_slice()).collect();
    let unit = if level == "eye" { "eyes" } else { "images" };
    let aggregates = aggregate(&meta.finding_ids, &findings)
        .iter()
        .map(|a| a.sentence(&finding_name(&analyzer, &a.finding_id), unit))
        .collect();
    let output = SearchOutput {
        library: dir.display().to_string(),
        model: stamp.label(),
        query: label,
        level,
        hits: rows,
        aggregates,
        model_probabilities,
    };
    if json {
        println!("{}", serde_json::to_string_pretty(&output)?);
    } else {
        print_search(&output);
    }
    Ok(ExitCode::SUCCESS)
}

fn finding_name(analyzer: &Analyzer, id: &str) -> String {
    analyzer
        .session()
        .manifest()
        .findings
        .iter()
        .find(|f| f.id == id)
        .map_or_else(|| id.replace('_', " "), |f| lowercase_first(&f.name))
}

/// "Referable diabetic retinopathy (moderate NPDR …)" → "referable diabetic retinopathy
/// (moderate NPDR …)": mid-sentence, abbreviations kept.
fn lowercase_first(name: &str) -> String {
    let mut chars = name.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// Rows of a table of hits; `describe` gives a record's case id, eye, modalities, findings.
fn hit_rows<R>(
    hits: &[crate::library::Hit<R>],
    describe: impl Fn(&R) -> (&String, Eye, Vec<Modality>, &Vec<String>),
) -> Vec<HitRow> {
    hits.iter()
        .enumerate()
        .map(|(i, h)| {
            let (case_id, eye, modalities, findings) = describe(&h.record);
            HitRow {
                rank: i + 1,
                similarity: h.similarity,
                case_id: case_id.clone(),
                eye,
                modalities,
                findings: findings.clone(),
            }
        })
        .collect()
}

fn image_rows(hits: &[crate::library::Hit<crate::library::CaseImage>]) -> Vec<HitRow> {
    hit_rows(hits, |r| (&r.case_id, r.eye, vec![r.modality], &r.findings))
}

fn print_search(output: &SearchOutput) {
    println!("query: {} ({}-level)", output.query, output.level);
    println!("model: {}", output.model);
    for row in &output.hits {
        let modalities: Vec<&str> = row.modalities.iter().map(|m| m.label()).collect();
        let findings = if row.findings.is_empty() {
            "none".to_string()
        } else {
            row.findings.join(", ")
        };
        println!(
            "{:>3}. {:.3}  {}  {}  {:<24} {findings}",
            row.rank,
            row.similarity,
            row.case_id,
            row.eye.label(),
            modalities.join("+")
        );
    }
    for line in &output.aggregates {
        println!("{line}");
    }
    if !output.model_probabilities.is_empty() {
        println!(
            "model's own probabilities: {}",
            output.model_probabilities.join(", ")
        );
    }
}

/// Precision@k per level.
#[derive(Debug, Serialize)]
struct Evaluation {
    k: usize,
    image_queries: usize,
    image_precision: f64,
    eye_queries: usize,
    eye_precision: f64,
    per_finding: Vec<(String, usize, f64)>,
}

/// The query's main finding: its first finding in the library's order, or `none`.
fn main_finding(order: &[String], findings: &[String]) -> String {
    order
        .iter()
        .find(|f| findings.contains(f))
        .cloned()
        .unwrap_or_else(|| "none".to_string())
}

fn relevant(main: &str, findings: &[String]) -> bool {
    if main == "none" {
        findings.is_empty()
    } else {
        findings.iter().any(|f| f == main)
    }
}

fn evaluate(
    dir: &Path,
    studies: &[PathBuf],
    labels: Option<&Path>,
    k: usize,
    json: bool,
    pack: &PackArgs,
) -> anyhow::Result<ExitCode> {
    let (library, analyzer) = open_with_pack(dir, pack)?;
    let labels = read_labels(labels, studies)?;
    let searcher = Searcher::open(&library)?;
    let order = &library.meta().finding_ids;
    let catalog = scan_paths(studies);
    let (mut image_hits, mut image_queries, mut eye_hits, mut eye_queries) = (0, 0, 0, 0);
    let mut per_finding: std::collections::BTreeMap<String, (usize, usize)> = Default::default();
    for patient in &catalog.patients {
        let result = analyzer.analyze_patient(patient)?;
        for image in &result.images {
            let (Some(vector), Some(findings)) =
                (&image.vector, labels.of(&patient.info.id, image.eye))
            else {
                continue;
            };
            let main = main_finding(order, findings);
            let filter = Filter {
                modality: Some(image.modality),
                ..Filter::default()
            };
            let hits = searcher.similar_images(vector, k, &filter)?;
            image_hits += hits
                .iter()
                .filter(|h| relevant(&main, &h.record.findings))
                .count();
            image_queries += 1;
        }
        for eye in &result.eyes {
            let (Some(fused), Some(findings)) = (&eye.fused, labels.of(&patient.info.id, eye.eye))
            else {
                continue;
            };
            let main = main_finding(order, findings);
            let hits = searcher.similar_eyes(fused, k, &Filter::default())?;
            let good = hits
                .iter()
                .filter(|h| relevant(&main, &h.record.findings))
                .count();
            eye_hits += good;
            eye_queries += 1;
            let entry = per_finding.entry(main).or_default();
            entry.0 += 1;
            entry.1 += good;
        }
    }
    let precision = |hits: usize, queries: usize| hits as f64 / (queries * k).max(1) as f64;
    let evaluation = Evaluation {
        k,
        image_queries,
        image_precision: precision(image_hits, image_queries),
        eye_queries,
        eye_precision: precision(eye_hits, eye_queries),
        per_finding: per_finding
            .into_iter()
            .map(|(f, (n, good))| (f, n, precision(good, n)))
            .collect(),
    };
    if json {
        println!("{}", serde_json::to_string_pretty(&evaluation)?);
    } else {
        println!("{}", pack_line(library.meta()));
        println!(
            "image → image (same modality): precision@{k} {:.3} over {} queries",
            evaluation.image_precision, evaluation.image_queries
        );
        println!(
            "eye → eye (fused): precision@{k} {:.3} over {} queries",
            evaluation.eye_precision, evaluation.eye_queries
        );
        for (finding, n, p) in &evaluation.per_finding {
            println!("  eyes whose main finding is {finding}: precision@{k} {p:.3} ({n})");
        }
    }
    Ok(ExitCode::SUCCESS)
}
