//! Fold plans: speaker independence, every actor tested exactly once, determinism.

use proptest::prelude::*;
use ser_experiment::folds::{paper_plan, plan_for, reduced_plan, FoldPlan, PlanKind, Role};
use ser_experiment::ExperimentError;

/// Checks the properties every plan must have over `actors`.
fn check_plan(plan: &FoldPlan, actors: &[u8]) {
    assert_eq!(plan.actors(), actors, "plan uses exactly the given actors");
    for fold in &plan.folds {
        assert!(
            fold.is_speaker_independent(),
            "fold {} mixes roles: {fold:?}",
            fold.index
        );
        let mut all: Vec<u8> = fold
            .test
            .iter()
            .chain(&fold.validation)
            .chain(&fold.train)
            .copied()
            .collect();
        all.sort_unstable();
        assert_eq!(
            all, actors,
            "fold {} assigns every actor a role",
            fold.index
        );
        for &a in actors {
            let roles = [Role::Test, Role::Validation, Role::Train]
                .iter()
                .filter(|&&r| fold.role_of(a) == Some(r))
                .count();
            assert_eq!(roles, 1);
        }
    }
    for &a in actors {
        assert_eq!(plan.times_tested(a), 1, "actor {a} tested once");
    }
}

#[test]
fn paper_plan_matches_the_readme() {
    let plan = paper_plan();
    assert_eq!(plan.kind, PlanKind::Paper);
    assert_eq!(plan.folds.len(), 5);
    let all: Vec<u8> = (1..=24).collect();
    check_plan(&plan, &all);
    assert_eq!(plan.folds[0].test, vec![2, 5, 14, 15, 16]);
    assert_eq!(plan.folds[0].validation, vec![3, 6]);
    assert_eq!(plan.folds[3].validation, vec![1, 14]);
    assert_eq!(plan.folds[4].test, vec![1, 4, 9, 22]);
    assert_eq!(plan.folds[4].train.len(), 24 - 4 - 2);
}

#[test]
fn paper_plan_needs_all_actors() {
    let some: Vec<u8> = (1..=8).collect();
    let err = plan_for(&some, false, std::path::Path::new("/data")).unwrap_err();
    match err {
        ExperimentError::MissingActors { missing, .. } => {
            assert_eq!(missing, (9..=24).collect::<Vec<u8>>())
        }
        other => panic!("expected MissingActors, got {other}"),
    }
    let all: Vec<u8> = (1..=24).collect();
    assert_eq!(
        plan_for(&all, false, std::path::Path::new("/data")).unwrap(),
        paper_plan()
    );
    assert_eq!(
        plan_for(&some, true, std::path::Path::new("/data"))
            .unwrap()
            .kind,
        PlanKind::Reduced
    );
}

#[test]
fn reduced_plan_for_the_ci_actors() {
    let actors: Vec<u8> = (1..=8).collect();
    let plan = reduced_plan(&actors).unwrap();
    assert_eq!(plan.folds.len(), 4);
    check_plan(&plan, &actors);
    // Snake order pairs a male (odd) with a female (even) actor in every test group.
    for fold in &plan.folds {
        assert_eq!(fold.test.len(), 2);
        assert_eq!(
            fold.test.iter().filter(|a| *a % 2 == 1).count(),
            1,
            "{fold:?}"
        );
    }
}

#[test]
fn reduced_plan_rejects_too_few_actors() {
    assert!(matches!(
        reduced_plan(&[1, 2]),
        Err(ExperimentError::TooFewActors { .. })
    ));
    assert!(matches!(
        reduced_plan(&[4, 4, 4]),
        Err(ExperimentError::TooFewActors { .. })
    ));
    assert!(reduced_plan(&[1, 2, 3]).is_ok());
}

proptest! {
    #[test]
    fn reduced_plan_is_speaker_independent_and_deterministic(
        set in proptest::collection::btree_set(1u8..=24, 3..=24),
        seed in any::<u64>(),
    ) {
        let actors: Vec<u8> = set.into_iter().collect();
        let plan = reduced_plan(&actors).unwrap();
        check_plan(&plan, &actors);
        prop_assert!((3..=5).contains(&plan.folds.len()));
        // The order of the input does not matter.
        let mut shuffled = actors.clone();
        let n = shuffled.len();
        shuffled.rotate_left((seed as usize) % n);
        shuffled.reverse();
        prop_assert_eq!(reduced_plan(&shuffled).unwrap(), plan);
    }
}
