//! The viewer: its configuration, start-up, and the frame. Each frame polls the jobs
//! (`FoveaApp::poll`), draws the panels (which emit [`Command`]s and may adjust the view), then
//! applies the commands (`FoveaApp::apply`). Every slow step (scan, decode, model, heatmaps,
//! retrieval, dialogs) is a background worker. The state itself is in [`super::state`].

use std::path::PathBuf;
use std::time::Duration;

use super::analysis_job::{AnalysisJob, ModelDevice};
use super::commands::Command;
use super::settings::{SETTINGS_KEY, Settings};
use super::state::{Jobs, Session, View};
use super::status::{LibraryStatus, ModelStatus};
use crate::study::Eye;
use crate::study::jobs::DecodeWorker;

/// What the viewer opens and with what.
pub struct ViewerConfig {
    /// Folders, files or DICOMDIRs.
    pub paths: Vec<PathBuf>,
    /// The model pack.
    pub pack: PathBuf,
    /// The case library for similar cases (none: the panel says so).
    pub library: Option<PathBuf>,
    /// Whether the model runs on the window's wgpu device.
    pub model_on: ModelPlacement,
    /// Leave durations out of the status bar, so the same state always draws the same
    /// picture (screenshot tests, README pictures).
    pub pixel_stable: bool,
    /// How the scan reads what files do not say (the user's file-name pattern).
    pub scan: crate::study::ScanOptions,
    /// The bundled demo patients, which the start screen offers (none: not offered). The
    /// start screen is shown while `paths` is empty (opening anything sets it).
    pub demo_patients: Option<PathBuf>,
}

/// Where the viewer runs the model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModelPlacement {
    /// burn's CPU backend.
    Cpu,
    /// The window's GPU when it is a real GPU by the rule `--device auto` follows
    /// ([`crate::encoder::device::pick_real_gpu`]: discrete or integrated; a software
    /// rasteriser such as lavapipe is slower than burn's CPU backend), else the CPU. The
    /// window's device must have been made with
    /// [`crate::encoder::device::compute_device_descriptor`].
    GpuIfReal,
    /// The window's wgpu device, whatever it is (benchmarks and tests on lavapipe).
    WindowDevice,
}

/// The viewer: the three groups of state (see `ui::state`) and the commands the panels
/// emitted this frame.
pub struct FoveaApp {
    pub(super) ctx: egui::Context,
    pub(super) config: ViewerConfig,
    /// Whether images are drawn by the wgpu shader (else egui textures).
    pub(super) gpu: bool,
    pub(super) display_adapter: Option<String>,
    pub(super) jobs: Jobs,
    pub(super) session: Session,
    pub(super) view: View,
    pub(super) commands: Vec<Command>,
}

/// How often the UI looks at its jobs while something runs.
pub(super) const POLL_INTERVAL: Duration = Duration::from_millis(100);

/// Typing pauses this long before a prompt is scored.
pub(super) const PROMPT_DEBOUNCE: Duration = Duration::from_millis(400);

impl FoveaApp {
    /// Starts scanning, loading the model and opening the library in the background.
    pub fn new(cc: &eframe::CreationContext<'_>, config: ViewerConfig) -> Self {
        let settings: Settings = cc
            .storage
            .and_then(|s| eframe::get_value(s, SETTINGS_KEY))
            .unwrap_or_default();
        let mut job_errors = Vec::new();
        let render_state = cc.wgpu_render_state.as_ref();
        if let Some(render_state) = render_state {
            super::gpu_image::ImagePipeline::install(render_state);
        }
        let display_adapter = render_state.map(|rs| {
            let info = rs.adapter.get_info();
            format!("{} ({:?})", info.name, info.backend)
        });
        // The same rule as `--device auto`: a discrete or integrated GPU, never a software one.
        let is_real_gpu = |rs: &eframe::egui_wgpu::RenderState| {
            crate::encoder::device::pick_real_gpu(&[rs.adapter.get_info().device_type]).is_some()
        };
        let device = match render_state {
            Some(rs)
                if config.model_on == ModelPlacement::WindowDevice
                    || (config.model_on == ModelPlacement::GpuIfReal && is_real_gpu(rs)) =>
            {
                let shared = crate::encoder::device::SharedWgpu {
                    instance: rs.instance.clone(),
                    adapter: rs.adapter.clone(),
                    device: rs.device.clone(),
                    queue: rs.queue.clone(),
                };
                match crate::encoder::device::share_wgpu_device(shared) {
                    Ok(opened) => ModelDevice::Opened(opened),
                    Err(e) => {
                        job_errors.push(format!("model on the CPU: the window's GPU: {e}"));
                        ModelDevice::Cpu
                    }
                }
            }
            _ => ModelDevice::Cpu,
        };
        let decode = DecodeWorker::spawn(32)
            .map_err(|e| job_errors.push(format!("cannot start decoding: {e}")))
            .ok();
        let repaint_ctx = cc.egui_ctx.clone();
        let model_device = device.clone();
        let analysis = AnalysisJob::start(config.pack.clone(), device, move || {
            repaint_ctx.request_repaint()
        })
        .map_err(|e| job_errors.push(format!("cannot start the model: {e}")))
        .ok();
        cc.egui_ctx.set_theme(settings.theme());
        let library_status = match &config.library {
            Some(_) => LibraryStatus::Loading,
            None => LibraryStatus::None("no case library configured (--library)".into()),
        };
        let show_timings = !config.pixel_stable;
        let mut app = FoveaApp {
            ctx: cc.egui_ctx.clone(),
            gpu: render_state.is_some(),
            display_adapter,
            jobs: Jobs {
                scan: None,
                decode,
                analysis,
                library: None,
                dialog: None,
                job_errors,
                next_request: 0,
                similar_serial: 0,
                model: ModelStatus::Loading,
                library_status,
                last_analysis: None,
                dialog_kind: None,
                model_tool: None,
                model_tool_status: super::state::ToolStatus::Idle,
                model_device,
                first_pack: config.pack.clone(),
            },
            session: Session::opening(0),
            view: View::new(settings, show_timings),
            commands: Vec::new(),
            config,
        };
        let paths = app.config.paths.clone();
        if paths.is_empty() {
            app.session.scan_note = "nothing opened yet".into();
            app.session.scan_progress = None;
        } else {
            app.open(paths);
        }
        app
    }
}

impl eframe::App for FoveaApp {
    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        self.poll();
        let dropped: Vec<PathBuf> = ui.ctx().input(|i| {
            i.raw
                .dropped_files
                .iter()
                .map(|f| f.path().to_path_buf())
                .filter(|p| !p.as_os_str().is_empty())
                .collect()
        });
        if !dropped.is_empty() {
            self.commands.push(Command::Open(dropped));
        }
        self.shortcuts(ui.ctx());
        egui::Panel::top("menu").show(ui, |ui| self.menu_bar_ui(ui));
        egui::Panel::bottom("status").show(ui, |ui| self.status_bar_ui(ui));
        if self.view.settings.patient_list_open {
            egui::Panel::left("patients")
                .resizable(true)
                .default_size(240.0)
                .show(ui, |ui| self.patient_list_ui(ui));
        }
        egui::Panel::right("findings")
            .resizable(true)
            .default_size(340.0)
            .show(ui, |ui| self.side_panel_ui(ui));
        egui::Panel::bottom("similar cases")
            .resizable(true)
            .default_size(210.0)
            .show(ui, |ui| self.similar_ui(ui));
        egui::CentralPanel::default().show(ui, |ui| {
            let Some(index) = self.session.selected else {
                if self.config.paths.is_empty() {
                    self.welcome_ui(ui);
                } else {
                    ui.label(&self.session.scan_note);
                }
                return;
            };
            self.view.hovered_eye = None;
            self.view_toolbar_ui(ui);
            ui.separator();
            ui.columns(2, |columns| {
                self.eye_column_ui(&mut columns[0], index, Eye::Right);
                self.eye_column_ui(&mut columns[1], index, Eye::Left);
            });
        });
        self.compare_ui(ui.ctx());
        self.help_ui(ui.ctx());
        if self.view.show_pack_card {
            self.pack_card_ui(ui.ctx());
        }
        if self.view.model_tool.open.is_some() {
            self.model_tool_ui(ui.ctx());
        }
        self.apply();
        // What the screen now shows (after the commands) asks for its pixels.
        self.request_shown_pixels();
        if self.decoding() {
            self.ctx.request_repaint_after(POLL_INTERVAL);
        }
    }

    fn save(&mut self, storage: &mut dyn eframe::Storage) {
        eframe::set_value(storage, SETTINGS_KEY, &self.view.settings);
    }
}
