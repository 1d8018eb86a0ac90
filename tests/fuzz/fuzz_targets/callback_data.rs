//! Callback data comes from the shopper's client: any bytes must parse or be refused, and
//! whatever parses must be written back the same and fit Telegram's 64 bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use storebot::conversation::callback::Callback;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(callback) = text.parse::<Callback>() {
        let written = callback.to_string();
        assert!(written.len() <= 64, "{written:?} is over 64 bytes");
        let again: Callback = written
            .parse()
            .unwrap_or_else(|_| panic!("{written:?} reads back"));
        assert_eq!(again, callback);
    }
});
