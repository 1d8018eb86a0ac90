//! Segment rules come from the merchant's files: any text must be read or refused, what is read
//! must validate (or be refused) without panicking and survive being stored and read back.
#![no_main]

use libfuzzer_sys::fuzz_target;
use storebot::segments::{ValidationFacts, from_json, to_json, validate};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(rule) = from_json(text) {
        let _ = validate(&rule, &ValidationFacts::default());
        let _ = rule.references();
        let _ = rule.time_frames();
        let stored = to_json(&rule).unwrap_or_else(|error| panic!("{error}"));
        let again = from_json(&stored).unwrap_or_else(|error| panic!("{error}"));
        assert_eq!(again, rule);
    }
});
