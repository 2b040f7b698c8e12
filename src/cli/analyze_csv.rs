//! `fovea analyze --format csv`: the results as one CSV table (csv crate, RFC 4180 quoting),
//! a row per patient-, eye- and image-level finding; columns are documented in the README.

use crate::analysis::engine::PatientResult;
use crate::analysis::findings::FindingProbability;

/// One entry per finding, or a single blank one when there are none (the row still says why).
fn each_or_blank(findings: &[FindingProbability]) -> Vec<Option<&FindingProbability>> {
    if findings.is_empty() {
        vec![None]
    } else {
        findings.iter().map(Some).collect()
    }
}

/// The results as CSV: one row per (patient | eye | image, finding), header first.
pub(super) fn csv(results: &[PatientResult]) -> Result<String, csv::Error> {
    let mut out = csv::Writer::from_writer(Vec::new());
    out.write_record(
        "patient_id,level,eye,image,modality,gradable,reasons,finding_id,finding,probability,operating_point,refer,images_used,model,model_version,weights_sha256,synthetic_training_data,calibrated,outside_domain,domain"
            .split(','),
    )?;
    for r in results {
        let m = &r.model;
        let mut row = |level: &str,
                       eye: &str,
                       image: &str,
                       modality: &str,
                       gradable: &str,
                       reasons: &str,
                       used: &str,
                       domain: &str,
                       f: Option<&FindingProbability>| {
            let outside = f.map(|f| f.outside_domain.to_string()).unwrap_or_default();
            let (id, name, p, op, refer, calibrated) = match f {
                Some(f) => (
                    f.id.as_str(),
                    f.name.as_str(),
                    format!("{:.4}", f.probability),
                    f.operating_point
                        .map(|t| format!("{t:.4}"))
                        .unwrap_or_default(),
                    f.refer.to_string(),
                    f.calibrated.to_string(),
                ),
                None => (
                    "",
                    "",
                    String::new(),
                    String::new(),
                    String::new(),
                    String::new(),
                ),
            };
            let fields = [
                r.patient_id.as_str(),
                level,
                eye,
                image,
                modality,
                gradable,
                reasons,
                id,
                name,
                &p,
                &op,
                &refer,
                used,
                m.name.as_str(),
                m.version.as_str(),
                m.weights_sha256.as_str(),
                if m.synthetic_training_data {
                    "true"
                } else {
                    "false"
                },
                &calibrated,
                &outside,
                domain,
            ];
            out.write_record(fields)
        };
        let rule = format!("patient ({:?})", r.patient_rule);
        let outside_count = |outside: usize, of: usize| {
            if outside > 0 {
                format!("{outside} of {of} image(s) outside the images the model was validated on")
            } else {
                String::new()
            }
        };
        let patient_domain = outside_count(r.images_outside_domain, r.images.len());
        for f in &r.findings {
            row(
                &rule,
                "",
                "",
                "",
                "",
                r.patient_note.as_deref().unwrap_or(""),
                "",
                &patient_domain,
                Some(f),
            )?;
        }
        for e in &r.eyes {
            let used: Vec<String> = e
                .contributing
                .iter()
                .map(|p| p.display().to_string())
                .collect();
            let excluded: Vec<String> = e
                .excluded
                .iter()
                .map(|(p, why)| format!("{}: {why}", p.display()))
                .collect();
            let (gradable, reasons, used) = if e.findings.is_empty() {
                ("no", e.note.clone().unwrap_or_default(), String::new())
            } else {
                ("yes", excluded.join("; "), used.join("; "))
            };
            let domain = outside_count(e.images_outside_domain, e.contributing.len());
            for f in each_or_blank(&e.findings) {
                row(
                    "eye",
                    e.eye.label(),
                    "",
                    "",
                    gradable,
                    &reasons,
                    &used,
                    &domain,
                    f,
                )?;
            }
        }
        for i in &r.images {
            let path = i.path.display().to_string();
            let (gradable, reasons) = match (&i.quality, &i.error) {
                (_, Some(error)) => ("no", error.clone()),
                (Some(q), None) => (if q.gradable { "yes" } else { "no" }, q.reasons.join("; ")),
                (None, None) => ("no", String::new()),
            };
            let domain = i.domain.as_ref().map(|d| d.note.as_str()).unwrap_or("");
            for f in each_or_blank(&i.findings) {
                row(
                    "image",
                    i.eye.label(),
                    &path,
                    i.modality.label(),
                    gradable,
                    &reasons,
                    "",
                    domain,
                    f,
                )?;
            }
        }
    }
    let bytes = out.into_inner().map_err(|e| e.into_error())?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}
