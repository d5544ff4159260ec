use serde_json::json;

use super::checkpoint::{PERIODIC, RETENTION};
use super::*;

fn content(i: u64) -> Content {
    Content::new(
        1_000 + i,
        "agent:ann",
        Some("s1"),
        "agent_action",
        &json!({ "action": "click", "n": i }),
    )
}

fn chain(node: &str, n: u64) -> (Chain, Vec<Record>) {
    let mut c = Chain::new(node);
    let records = (1..=n).map(|i| c.append(content(i))).collect();
    (c, records)
}

fn key() -> CheckpointKey {
    CheckpointKey::parse(&"07".repeat(32)).unwrap()
}

fn signed(chains: &[&Chain]) -> Checkpoint {
    let heads = chains.iter().map(|c| c.head()).collect();
    key().sign("n1", None, 5_000, PERIODIC, heads, vec![])
}

fn failing_record(result: Result<Report, Failure>) -> (String, u64) {
    match result {
        Err(Failure::Record { node, seq, .. }) => (node, seq),
        other => panic!("expected a bad record, got {other:?}"),
    }
}

#[test]
fn an_untouched_trail_verifies() {
    let (a, mut records) = chain("n1", 5);
    let (b, more) = chain("n2", 3);
    records.extend(more);
    let report = verify(&records, &[signed(&[&a, &b])], &[key().public()], true).unwrap();
    assert_eq!(
        report,
        Report {
            records: 8,
            checkpoints: 1,
            unattested: 0
        }
    );
}

#[test]
fn a_changed_record_is_named() {
    let (a, mut records) = chain("n1", 5);
    records[2].content.as_mut().unwrap().detail = r#"{"action":"navigate"}"#.into();
    let result = verify(&records, &[signed(&[&a])], &[key().public()], true);
    assert_eq!(failing_record(result), ("n1".into(), 3));
}

#[test]
fn a_changed_record_with_its_hash_rewritten_breaks_the_next_link() {
    let (a, mut records) = chain("n1", 5);
    let c = records[2].content.as_mut().unwrap();
    c.actor = "agent:bob".into();
    let r = &mut records[2];
    r.hash = link(&r.node, r.seq, &r.prev, &r.content.as_ref().unwrap().hash());
    let result = verify(&records, &[signed(&[&a])], &[key().public()], true);
    assert_eq!(failing_record(result), ("n1".into(), 4));
}

#[test]
fn deleted_inserted_and_reordered_records_are_named() {
    let (a, records) = chain("n1", 5);
    let checkpoints = [signed(&[&a])];
    let trusted = [key().public()];
    let mut deleted = records.clone();
    deleted.remove(1);
    assert_eq!(
        failing_record(verify(&deleted, &checkpoints, &trusted, true)),
        ("n1".into(), 3)
    );
    let mut swapped = records.clone();
    swapped.swap(1, 2);
    assert_eq!(
        failing_record(verify(&swapped, &checkpoints, &trusted, true)),
        ("n1".into(), 3)
    );
    let mut truncated = records.clone();
    truncated.pop();
    assert_eq!(
        failing_record(verify(&truncated, &checkpoints, &trusted, true)),
        ("n1".into(), 5)
    );
    let mut forged = Chain::resume("n1", 2, records[1].hash);
    let mut inserted = records.clone();
    inserted.insert(2, forged.append(content(99)));
    assert_eq!(
        failing_record(verify(&inserted, &checkpoints, &trusted, true)),
        ("n1".into(), 3)
    );
}

#[test]
fn a_checkpoint_with_another_key_or_a_changed_head_fails() {
    let (a, records) = chain("n1", 3);
    let mut c = signed(&[&a]);
    let other = CheckpointKey::parse(&"08".repeat(32)).unwrap();
    assert!(matches!(
        verify(&records, &[c.clone()], &[other.public()], true),
        Err(Failure::Checkpoint { .. })
    ));
    c.heads[0].seq = 2;
    assert!(matches!(
        verify(&records, &[c], &[key().public()], true),
        Err(Failure::Checkpoint { .. })
    ));
}

#[test]
fn a_removed_checkpoint_breaks_the_checkpoint_chain() {
    let (a, records) = chain("n1", 3);
    let first = signed(&[&a]);
    let second = key().sign("n1", Some(&first), 6_000, PERIODIC, vec![a.head()], vec![]);
    let third = key().sign("n1", Some(&second), 7_000, PERIODIC, vec![a.head()], vec![]);
    let trusted = [key().public()];
    assert!(
        verify(
            &records,
            &[first.clone(), second, third.clone()],
            &trusted,
            true
        )
        .is_ok()
    );
    assert!(matches!(
        verify(&records, &[first, third], &trusted, true),
        Err(Failure::Checkpoint { seq: 3, .. })
    ));
}

#[test]
fn retention_leaves_a_trail_that_verifies_from_its_cut() {
    let (a, records) = chain("n1", 6);
    let first = signed(&[&a]);
    let pruned = Head {
        node: "n1".into(),
        seq: 3,
        hash: records[2].hash,
    };
    let cut = key().sign(
        "n1",
        Some(&first),
        9_000,
        RETENTION,
        vec![a.head()],
        vec![pruned],
    );
    let trusted = [key().public()];
    let kept = &records[3..];
    assert_eq!(
        verify(kept, &[first.clone(), cut.clone()], &trusted, true)
            .unwrap()
            .records,
        3
    );
    assert_eq!(
        failing_record(verify(&records[4..], &[first.clone(), cut], &trusted, true)),
        ("n1".into(), 5)
    );
    assert_eq!(
        failing_record(verify(kept, &[first], &trusted, true)),
        ("n1".into(), 4)
    );
}

#[test]
fn an_export_with_elided_records_verifies_and_records_past_the_last_checkpoint_are_counted() {
    let (mut a, mut records) = chain("n1", 4);
    let c = signed(&[&a]);
    records.push(a.append(content(5)));
    let segment: Vec<Record> = records[1..]
        .iter()
        .enumerate()
        .map(|(i, r)| if i % 2 == 0 { r.elided() } else { r.clone() })
        .collect();
    let report = verify(&segment, std::slice::from_ref(&c), &[key().public()], false).unwrap();
    assert_eq!(report.unattested, 1);
    let mut forged = segment.clone();
    forged[0].content_hash[0] ^= 1;
    assert_eq!(
        failing_record(verify(&forged, &[c], &[key().public()], false)),
        ("n1".into(), 2)
    );
}

#[test]
fn the_encoding_separates_fields() {
    let a = Content::new(1, "ab", None, "c", &json!({}));
    let b = Content::new(1, "a", Some("b"), "c", &json!({}));
    assert_ne!(a.hash(), b.hash());
}

#[test]
fn a_key_survives_its_file_and_bad_text_is_refused() {
    let k = CheckpointKey::generate(&mut rand::rng());
    assert_eq!(
        CheckpointKey::parse(&k.to_text()).unwrap().public(),
        k.public()
    );
    assert!(CheckpointKey::parse("nothex").is_err());
}

#[test]
fn cap_cuts_on_characters() {
    assert_eq!(cap("héllo", 2), "hé");
    assert_eq!(cap("hi", 5), "hi");
}
