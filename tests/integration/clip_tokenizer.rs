//! The CLIP tokenizer gives open_clip's ids exactly (tests/data/reference/clip_tokenizer.json,
//! written by tests/reference/clip_tokenizer_reference.py).

use fovea::encoder::clip_tokenizer::{CONTEXT_LENGTH, ClipTokenizer};

#[test]
fn token_ids_equal_open_clip_for_every_reference_string() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/reference/clip_tokenizer.json"
    );
    let reference: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).expect("reference")).expect("json");
    let tokenizer = ClipTokenizer::new();
    let cases = reference["cases"].as_array().expect("cases");
    assert!(cases.len() >= 15);
    let mut mismatches = Vec::new();
    for case in cases {
        let text = case["text"].as_str().expect("text");
        let want: Vec<u32> = case["ids"]
            .as_array()
            .expect("ids")
            .iter()
            .map(|v| v.as_u64().expect("id") as u32)
            .collect();
        let got = tokenizer.tokenize(text, CONTEXT_LENGTH);
        if got != want {
            mismatches.push(format!(
                "{text:?}\n  fovea:     {got:?}\n  open_clip: {want:?}"
            ));
        }
    }
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
}

#[test]
fn long_text_is_cut_with_end_of_text_last_and_pooling_finds_it() {
    let tokenizer = ClipTokenizer::new();
    let ids = tokenizer.tokenize(&"drusen ".repeat(200), CONTEXT_LENGTH);
    assert_eq!(ids.len(), CONTEXT_LENGTH);
    assert_eq!(ids[0], tokenizer.start_of_text());
    assert_eq!(ids[CONTEXT_LENGTH - 1], tokenizer.end_of_text());
    assert_eq!(
        tokenizer.end_of_text_position(&ids),
        Some(CONTEXT_LENGTH - 1)
    );
    let short = tokenizer.tokenize("normal", CONTEXT_LENGTH);
    assert_eq!(tokenizer.end_of_text_position(&short), Some(2));
    assert!(short[3..].iter().all(|&id| id == 0));
}
