//! Answering from a large table allocates nothing per request (issue 11):
//! hits, misses and empty answers, through `respond` and `respond_frame`
//! (the path the server takes), before and after the table is replaced
//! while the service is in use. `crates/core/tests/alloc.rs` checks the
//! same through a real server and sockets, on the built-in table.

use sockmux_proto::{encode, Decoder, Limits, Request, SearchService, Table};
use sockmux_test_support::alloc::{allocations as allocated, Counting};

#[global_allocator]
static GLOBAL: Counting = Counting;

const ROUNDS: usize = 5_000;

fn table(tag: &str) -> Table {
    Table::from_entries((0..100_000).map(|i| {
        let answer = if i == 7 {
            String::new()
        } else {
            format!("{tag} \"answer\"\n{i} \u{1f430}")
        };
        (format!("key-{i:07}"), answer)
    }))
}

/// Allocations while answering every request `ROUNDS` times, both ways,
/// after one warm-up round; checks that each answer is `want`'s.
fn allocations(service: &SearchService, wires: &[Vec<u8>], want: &dyn Fn(usize, &[u8])) -> u64 {
    let mut out = Vec::with_capacity(64 * 1024);
    let mut decoder = Decoder::new(Limits::default());
    let mut answer_all = |out: &mut Vec<u8>| {
        for (i, wire) in wires.iter().enumerate() {
            let frame = decoder.decode(wire).expect("valid").expect("whole");
            out.clear();
            let rest = service.respond_frame(&frame, true, out).expect("answers");
            assert!(rest.is_none(), "short answers are written whole");
            want(i, out);
            let request = Request::parse(&frame).expect("valid");
            out.clear();
            service.respond(&request, true, out).expect("answers");
            want(i, out);
        }
    };
    answer_all(&mut out);
    let before = allocated();
    for _ in 0..ROUNDS {
        answer_all(&mut out);
    }
    allocated() - before
}

#[test]
fn answering_from_a_large_table_allocates_nothing_before_or_after_a_replace() {
    let keys = ["key-0000001", "key-0099999", "key-0000007", "no such key"];
    let wires: Vec<Vec<u8>> = keys
        .iter()
        .map(|key| {
            let mut wire = Vec::new();
            encode::search_request(key, true, &mut wire).expect("encodes");
            wire
        })
        .collect();
    let service = SearchService::new(table("A"));
    // The checks allocate nothing either: their texts are made up front.
    let expect = |tag: &str| {
        let hit = format!("{tag} \\\"answer\\\"\\n");
        move |i: usize, out: &[u8]| {
            let text = std::str::from_utf8(out).expect("UTF-8");
            match i {
                0 | 1 => assert!(text.contains(&hit), "{text}"),
                _ => assert!(text.contains("No match for"), "{text}"),
            }
        }
    };
    let a = allocations(&service, &wires, &expect("A"));

    let old = service.switch().replace(table("B"));
    assert_eq!(old.get("key-0000001"), Some("A \"answer\"\n1 \u{1f430}"));
    drop(old);
    let b = allocations(&service, &wires, &expect("B"));

    assert_eq!(
        a, 0,
        "{a} allocations over {ROUNDS} rounds before the replace"
    );
    assert_eq!(b, 0, "{b} allocations over {ROUNDS} rounds after it");
}
