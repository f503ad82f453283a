//! `--quote-style`: the post's double quotes by default, the current
//! tutorial's single quotes on request (PROTOCOL.md, section 3a); nothing
//! else in the answer changes.

use std::io::{Read, Write};

use sockmux_test_support::app::search;
use sockmux_test_support::{Sockmux, WAIT};

const SOCKMUX: Sockmux = Sockmux::new(env!("CARGO_BIN_EXE_sockmux"));

fn answer(style: Option<&str>, wire: &[u8]) -> String {
    let mut args = vec!["app-server"];
    if let Some(style) = style {
        args.extend(["--quote-style", style]);
    }
    let server = SOCKMUX.start(&args);
    let mut stream = server.connect();
    stream.set_read_timeout(Some(WAIT)).expect("timeout");
    stream.write_all(wire).expect("request");
    let mut got = Vec::new();
    stream.read_to_end(&mut got).expect("answer");
    String::from_utf8_lossy(&got).into_owned()
}

#[test]
fn names_are_quoted_as_the_chosen_version_of_the_tutorial_does() {
    let miss = search("nope", false);
    assert!(answer(None, &miss).ends_with(r#"{"result": "No match for \"nope\"."}"#));
    assert!(answer(Some("double"), &miss).ends_with(r#"{"result": "No match for \"nope\"."}"#));
    let single = answer(Some("single"), &miss);
    assert!(
        single.ends_with(r#"{"result": "No match for 'nope'."}"#),
        "{single}"
    );
    // The length in the header counts the shorter text.
    assert!(single.contains(r#""content-length": 34}"#), "{single}");
    let hit = answer(Some("single"), &search("morpheus", false));
    assert!(hit.contains("Follow the white rabbit"), "{hit}");
}
