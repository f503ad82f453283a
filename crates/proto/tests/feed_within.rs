//! The two powers of `StreamDecoder::feed_within`: a message kept for the
//! next feed, and a buffer that grows only when its owner says it may.

use std::ops::ControlFlow;

use sockmux_proto::{encode, Limits, ProtoError, Stop, StreamDecoder};

fn requests(values: &[&str]) -> Vec<u8> {
    let mut wire = Vec::new();
    for value in values {
        encode::search_request(value, true, &mut wire).expect("encodes");
    }
    wire
}

#[test]
fn a_kept_message_is_handed_out_again_whether_it_came_buffered_or_not() {
    let wire = requests(&["one", "two"]);
    for split in [0, 10, wire.len() - 1] {
        let mut decoder = StreamDecoder::new(Limits::default());
        let (mut seen, mut keeps) = (Vec::new(), 1);
        let mut feed = |decoder: &mut StreamDecoder, chunk: &[u8]| {
            decoder
                .feed_within(
                    chunk,
                    &mut (),
                    |_, _| true,
                    |_, frame| {
                        seen.push(frame.content.to_vec());
                        if keeps > 0 {
                            keeps -= 1;
                            return ControlFlow::Break(Stop::Keep);
                        }
                        ControlFlow::Continue(())
                    },
                )
                .expect("valid");
        };
        feed(&mut decoder, &wire[..split]);
        feed(&mut decoder, &wire[split..]);
        feed(&mut decoder, &[]);
        let contents: Vec<&[u8]> = seen.iter().map(Vec::as_slice).collect();
        let one = br#"{"action": "search", "value": "one"}"#;
        let two = br#"{"action": "search", "value": "two"}"#;
        assert_eq!(contents, [&one[..], one, two], "split at {split}");
        assert_eq!(decoder.buffered(), 0);
    }
}

#[test]
fn a_large_message_takes_nothing_when_its_owner_says_no() {
    let value = "x".repeat(100_000);
    let wire = requests(&[&value]);
    // Header and a little content: the message's length is now known.
    let head = &wire[..200];
    let mut decoder = StreamDecoder::new(Limits::default());
    let mut asked = Vec::new();
    let err = decoder
        .feed_within(
            head,
            &mut asked,
            |asked, n| {
                asked.push(n);
                false
            },
            |_, _| ControlFlow::Continue(()),
        )
        .expect_err("refused");
    assert!(
        matches!(err, ProtoError::OverBudget { len } if len == wire.len()),
        "{err:?}"
    );
    assert!(asked.len() == 1 && asked[0] >= wire.len(), "{asked:?}");
    assert_eq!(decoder.capacity(), 0, "nothing was taken");

    let mut decoder = StreamDecoder::new(Limits::default());
    let mut whole = 0;
    decoder
        .feed_within(head, &mut (), |_, _| true, |_, _| ControlFlow::Continue(()))
        .expect("allowed");
    assert!(decoder.capacity() >= wire.len());
    decoder
        .feed_within(
            &wire[200..],
            &mut (),
            |_, _| true,
            |_, _| {
                whole += 1;
                ControlFlow::Continue(())
            },
        )
        .expect("allowed");
    assert_eq!(whole, 1);
}
