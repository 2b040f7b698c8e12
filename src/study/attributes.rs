//! Small readers for DICOM attribute values: trimmed text, integers, floats, nested sequences.
//!
//! They return `None` for absent or empty attributes, so callers decide what is required.

use dicom_core::Tag;
use dicom_object::InMemDicomObject;

/// The attribute as trimmed text (multi-valued strings joined by `\`), `None` if absent or empty.
pub fn text(obj: &InMemDicomObject, tag: Tag) -> Option<String> {
    let value = obj.get(tag)?.to_str().ok()?;
    let trimmed = value.trim_matches(|c: char| c.is_whitespace() || c == '\0');
    (!trimmed.is_empty()).then(|| trimmed.to_string())
}

/// The attribute as an unsigned integer (first value), `None` if absent, empty or not a number.
pub fn uint(obj: &InMemDicomObject, tag: Tag) -> Option<u32> {
    let element = obj.get(tag)?;
    if element
        .value()
        .primitive()
        .is_some_and(|v| v.multiplicity() == 0)
    {
        return None;
    }
    element.to_int::<u32>().ok()
}

/// All values of a numeric or decimal-string attribute as `f64`.
pub fn floats(obj: &InMemDicomObject, tag: Tag) -> Option<Vec<f64>> {
    let values = obj.get(tag)?.to_multi_float64().ok()?;
    (!values.is_empty()).then_some(values)
}

/// The items of a sequence attribute; empty when absent or not a sequence.
pub fn items(obj: &InMemDicomObject, tag: Tag) -> &[InMemDicomObject] {
    obj.get(tag).and_then(|e| e.items()).unwrap_or(&[])
}

/// The first item of a sequence attribute.
pub fn first_item(obj: &InMemDicomObject, tag: Tag) -> Option<&InMemDicomObject> {
    items(obj, tag).first()
}

/// The Code Meaning (0008,0104) of every item of a code sequence, lower-cased.
pub fn code_meanings(obj: &InMemDicomObject, tag: Tag) -> Vec<String> {
    items(obj, tag)
        .iter()
        .filter_map(|item| text(item, dicom_dictionary_std::tags::CODE_MEANING))
        .map(|m| m.to_lowercase())
        .collect()
}

/// Formats a tag as `(gggg,eeee)`.
pub fn tag_label(tag: Tag) -> String {
    format!("({:04X},{:04X})", tag.group(), tag.element())
}

/// Number of Frames (0028,0008), 1 when absent or zero (single-frame images omit it).
pub fn frame_count(obj: &InMemDicomObject) -> u32 {
    uint(obj, dicom_dictionary_std::tags::NUMBER_OF_FRAMES)
        .unwrap_or(1)
        .max(1)
}
