//! De-identified case ids: derived from the patient id with the library's secret salt, never
//! copied. The same patient gets the same case id within one library (so images group into
//! cases), different libraries give unrelated ids, and without the salt (kept inside the
//! library, never printed) an id cannot be checked against a list of known patient ids.

use sha2::{Digest, Sha256};

/// `case-` and 12 hex digits of SHA-256(salt ‖ 0 ‖ patient id).
pub fn case_id(salt: &str, patient_id: &str) -> String {
    let mut hasher = Sha256::new();
    hasher.update(salt.as_bytes());
    hasher.update([0]);
    hasher.update(patient_id.as_bytes());
    let digest = hasher.finalize();
    let hex: String = digest.iter().take(6).map(|b| format!("{b:02x}")).collect();
    format!("case-{hex}")
}

/// A new salt: SHA-256 of the clock, the process id and the library's path (unpredictable to
/// someone who has only the library's case ids; no OS random source needed).
pub fn new_salt(path: &std::path::Path) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    let mut hasher = Sha256::new();
    hasher.update(now.to_le_bytes());
    hasher.update(std::process::id().to_le_bytes());
    hasher.update(path.to_string_lossy().as_bytes());
    hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn case_ids_are_stable_per_salt_and_differ_across_salts() {
        let a = case_id("salt-a", "SYN010001");
        assert_eq!(a, case_id("salt-a", "SYN010001"));
        assert_ne!(a, case_id("salt-b", "SYN010001"));
        assert_ne!(a, case_id("salt-a", "SYN010002"));
        assert!(!a.contains("SYN"));
        assert_eq!(a.len(), "case-".len() + 12);
    }
}
