//! A message of the directory topic as another instance (or damage) wrote it: read as an entry
//! or skipped, never a panic; what reads writes back to the same key and value.
#![no_main]
use directory_entry::Entry;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|message: (Vec<u8>, Option<Vec<u8>>)| {
    let (key, value) = message;
    if let Some(entry) = Entry::decode(&key, value.as_deref()) {
        assert_eq!(entry.key().as_bytes(), &key[..]);
        let written = entry.value();
        // An owner's JSON may be spelled otherwise (spaces, key order); its meaning is the same.
        let again = Entry::decode(entry.key().as_bytes(), written.as_deref());
        assert_eq!(again.as_ref(), Some(&entry));
        if let Entry::Number { .. } = entry {
            assert_eq!(written, value);
        }
    }
});
