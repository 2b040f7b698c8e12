//! The headless commands of the `fovea` binary. Errors end here: they are printed once, with
//! their causes, and turned into an exit status.

mod analyze;
mod analyze_csv;
mod bundled;
mod demo_data;
mod library;
mod model;
mod studies;
mod train_demo;
mod validate;
mod version;

pub use bundled::{DATA_DIR_VARIABLE, DataRoot};
pub use version::BUILT_WITH;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::study::ScanOptions;
use crate::study::file_names::NamePatterns;

/// Fovea: an offline viewer for ophthalmic studies.
#[derive(Debug, Parser)]
#[command(name = "fovea", about, disable_version_flag = true)]
pub struct Cli {
    /// What to do; without a command, the viewer opens.
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Folders, files or DICOMDIRs to open in the viewer (none: a start screen offering the
    /// bundled demo patients, a folder, or a model import).
    pub paths: Vec<PathBuf>,
    /// The model pack the viewer uses (default: the bundled demo model).
    #[arg(long)]
    pub pack: Option<PathBuf>,
    /// The case library the viewer searches for similar cases (default: the bundled demo
    /// library); opened read-only.
    #[arg(long, conflicts_with = "no_library")]
    pub library: Option<PathBuf>,
    /// Open the viewer without a case library.
    #[arg(long)]
    pub no_library: bool,
    /// Run the model on the CPU even when the window has a real GPU.
    #[arg(long)]
    pub cpu_model: bool,
    /// `--name-pattern` for the viewer's scan.
    #[command(flatten)]
    pub names: NamePatternArg,
    /// Print the version, the bundled demo model (name, version, weights checksum) and the
    /// versions of burn, wgpu, eframe and dicom-rs, then exit.
    #[arg(short = 'V', long)]
    pub version: bool,
    /// Say more on stderr: -v for what Fovea does (info), -vv for detail (debug). `RUST_LOG`
    /// overrides it (e.g. RUST_LOG=wgpu_hal=warn,fovea=debug).
    #[arg(short = 'v', long = "verbose", action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Scan folders, files or DICOMDIRs and print patients → studies → eyes → images,
    /// and every file that could not be read with its reason.
    Studies {
        /// Folders, DICOM files, DICOMDIR files or plain images.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// Print JSON instead of a tree.
        #[arg(long)]
        json: bool,
        /// `--name-pattern`.
        #[command(flatten)]
        names: NamePatternArg,
    },
    /// Write seeded synthetic demo patients (DICOM OP/OPT + PNG + ground-truth JSON).
    DemoData(demo_data::DemoDataArgs),
    /// Model packs: import a published checkpoint, check a pack.
    #[command(subcommand)]
    Model(model::ModelCommand),
    /// Screen folders of studies: per-patient and per-eye findings, referral flags, gradeability.
    Analyze(analyze::AnalyzeArgs),
    /// Train the demo model on synthetic patients and write it as a pack with its model card.
    TrainDemo(train_demo::TrainDemoArgs),
    /// Case library of reference cases with known findings: build, add, info, search, evaluate.
    #[command(subcommand)]
    Library(library::LibraryCommand),
}

/// `--name-pattern`: how plain images' file names give patient and eye.
#[derive(Debug, Clone, clap::Args)]
pub struct NamePatternArg {
    /// Read plain images' file names with this regular expression instead of the built-in
    /// camera patterns: named groups `patient` and `eye` (L, R, OS, OD, left, right), and
    /// optionally `date`; matched against the whole file name without its extension, ignoring
    /// case. Example: '(?P<eye>OD|OS)_(?P<patient>\d+)'.
    #[arg(long = "name-pattern", value_name = "REGEX", value_parser = parse_name_pattern)]
    pub name_pattern: Option<NamePatterns>,
}

impl NamePatternArg {
    /// The scan options these arguments ask for.
    pub fn scan_options(&self) -> ScanOptions {
        ScanOptions {
            names: self.name_pattern.clone().unwrap_or_default(),
        }
    }
}

fn parse_name_pattern(text: &str) -> Result<NamePatterns, String> {
    NamePatterns::user(text).map_err(|e| crate::study::error::error_chain(&e))
}

/// A line for the person at the terminal — progress, summaries, the device chosen (stderr;
/// stdout keeps the command's output).
#[allow(clippy::print_stderr)]
fn note(line: &str) {
    eprintln!("{line}");
}

/// What the viewer is asked to open, as the command line gave it (defaults filled in). The
/// binary turns it into the viewer's configuration: `cli` knows no GUI.
#[derive(Debug, Clone)]
pub struct ViewerRequest {
    /// Folders, files or DICOMDIRs; none: the viewer's start screen.
    pub paths: Vec<PathBuf>,
    /// The bundled demo patients, which the start screen offers.
    pub demo_patients: PathBuf,
    /// The model pack (default: the bundled demo model).
    pub pack: PathBuf,
    /// The case library (default: the bundled one; none with `--no-library`).
    pub library: Option<PathBuf>,
    /// Keep the model on the CPU even when the window has a real GPU.
    pub cpu_model: bool,
    /// How the scan reads file names (`--name-pattern`).
    pub scan: ScanOptions,
}

impl ViewerRequest {
    fn from_cli(cli: Cli) -> Self {
        let data = DataRoot::locate();
        ViewerRequest {
            paths: cli.paths,
            demo_patients: data.demo_patients(),
            pack: cli.pack.unwrap_or_else(|| data.demo_pack()),
            library: if cli.no_library {
                None
            } else {
                cli.library.or_else(|| data.demo_library())
            },
            cpu_model: cli.cpu_model,
            scan: cli.names.scan_options(),
        }
    }
}

/// Opens the viewer with `open_viewer`; reports a window that cannot open once.
fn viewer<E: std::fmt::Display>(
    request: ViewerRequest,
    open_viewer: impl FnOnce(ViewerRequest) -> Result<(), E>,
) -> ExitCode {
    match open_viewer(request) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            #[allow(clippy::print_stderr)] // the one place errors reach the user
            {
                eprintln!(
                    "fovea: error: the viewer window could not open: {error} (the headless commands work without a display: fovea --help)"
                );
            }
            ExitCode::FAILURE
        }
    }
}

/// Parses arguments, runs the command (or, without one, `open_viewer`), reports any error once.
pub fn main<E: std::fmt::Display>(
    open_viewer: impl FnOnce(ViewerRequest) -> Result<(), E>,
) -> ExitCode {
    let mut cli = Cli::parse();
    let level = match cli.verbose {
        0 => "warn",
        1 => "warn,fovea=info",
        2 => "info,fovea=debug",
        _ => "debug,fovea=trace",
    };
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or(level)).init();
    if cli.version {
        print!("{}", version::version_text(&DataRoot::locate()));
        return ExitCode::SUCCESS;
    }
    let Some(command) = cli.command.take() else {
        return viewer(ViewerRequest::from_cli(cli), open_viewer);
    };
    let result = match command {
        Command::Studies { paths, json, names } => {
            studies::run(&paths, json, &names.scan_options())
        }
        Command::DemoData(args) => demo_data::run(&args),
        Command::Model(command) => model::run(&command),
        Command::TrainDemo(args) => train_demo::run(&args),
        Command::Analyze(args) => analyze::run(&args),
        Command::Library(command) => library::run(&command),
    };
    match result {
        Ok(code) => code,
        Err(error) => {
            #[allow(clippy::print_stderr)] // the one place errors reach the user
            {
                // Causes already quoted by the message above them are not repeated.
                let mut text = error.to_string();
                for cause in error.chain().skip(1) {
                    let cause = cause.to_string();
                    if !text.contains(&cause) {
                        text = format!("{text}: {cause}");
                    }
                }
                eprintln!("fovea: error: {text}");
            }
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::{Cli, Command};

    #[test]
    fn verbose_goes_before_or_after_a_command_and_paths_still_open_the_viewer() {
        let cli = Cli::try_parse_from(["fovea", "-v", "analyze", "x", "--device", "cpu"]).unwrap();
        assert_eq!(cli.verbose, 1);
        assert!(matches!(cli.command, Some(Command::Analyze(_))));
        let cli = Cli::try_parse_from(["fovea", "studies", "x", "-vv"]).unwrap();
        assert_eq!(cli.verbose, 2);
        assert!(matches!(cli.command, Some(Command::Studies { .. })));
        let cli = Cli::try_parse_from(["fovea", "-v", "folder", "--no-library"]).unwrap();
        assert_eq!(cli.verbose, 1);
        assert!(cli.command.is_none());
        assert_eq!(cli.paths, vec![std::path::PathBuf::from("folder")]);
        let cli = Cli::try_parse_from(["fovea", "a.vol", "b.vol"]).unwrap();
        assert!(cli.command.is_none() && cli.paths.len() == 2);
        let cli = Cli::try_parse_from(["fovea"]).unwrap();
        assert!(cli.command.is_none() && cli.paths.is_empty());
    }
}
