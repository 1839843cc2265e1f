//! Speaker-independent cross-validation plans.
//!
//! Every fold splits the actors into three disjoint roles: test, validation (picks the epoch kept) and
//! train (everything else). Over a plan each actor is tested exactly once, so the test predictions of all
//! folds together cover every clip once ("pooled out-of-fold").
//!
//! * [`paper_plan`]: the five folds of the paper (as in the authors' public code), for all 24 actors.
//! * [`reduced_plan`]: for any set of at least 3 actors (CI holds actors 1..=8). The sorted actors are dealt
//!   to `k = clamp(n / 2, 3, 5)` test groups in snake order (0, 1, .., k-1, k-1, .., 0, 0, ..), which keeps
//!   odd (male) and even (female) actors mixed when they alternate; fold `j` validates on the test group of
//!   fold `(j + 1) mod k`, as the paper's plan mostly does, and trains on the rest.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::dataset::NUM_ACTORS;
use crate::error::{ExperimentError, Result};

/// One fold: actor numbers per role, each list ascending.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fold {
    /// 0-based position in the plan.
    pub index: usize,
    pub test: Vec<u8>,
    pub validation: Vec<u8>,
    pub train: Vec<u8>,
}

/// Which rule produced a plan.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PlanKind {
    Paper,
    Reduced,
}

/// A list of folds.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FoldPlan {
    pub kind: PlanKind,
    pub folds: Vec<Fold>,
}

/// Role of an actor within one fold.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    Train,
    Validation,
    Test,
}

/// The paper's test actors per fold.
pub const PAPER_TEST: [&[u8]; 5] = [
    &[2, 5, 14, 15, 16],
    &[3, 6, 7, 13, 18],
    &[10, 11, 12, 19, 20],
    &[8, 17, 21, 23, 24],
    &[1, 4, 9, 22],
];

/// The paper's validation actors per fold.
pub const PAPER_VALIDATION: [&[u8]; 5] = [&[3, 6], &[10, 11], &[8, 17], &[1, 14], &[2, 5]];

/// The paper's 5-fold plan over actors 1..=24.
pub fn paper_plan() -> FoldPlan {
    let folds = PAPER_TEST
        .iter()
        .zip(PAPER_VALIDATION.iter())
        .enumerate()
        .map(|(index, (test, validation))| {
            let train = (1..=NUM_ACTORS)
                .filter(|a| !test.contains(a) && !validation.contains(a))
                .collect();
            Fold {
                index,
                test: sorted(test),
                validation: sorted(validation),
                train,
            }
        })
        .collect();
    FoldPlan {
        kind: PlanKind::Paper,
        folds,
    }
}

/// Deterministic speaker-independent plan over the given actors (order and duplicates do not matter).
///
/// # Errors
/// [`ExperimentError::TooFewActors`] for fewer than 3 distinct actors.
pub fn reduced_plan(actors: &[u8]) -> Result<FoldPlan> {
    let actors: Vec<u8> = actors
        .iter()
        .copied()
        .collect::<BTreeSet<u8>>()
        .into_iter()
        .collect();
    let n = actors.len();
    if n < 3 {
        return Err(ExperimentError::TooFewActors {
            needed: 3,
            present: actors,
        });
    }
    let k = (n / 2).clamp(3, 5);
    let mut groups: Vec<Vec<u8>> = vec![Vec::new(); k];
    for (position, &actor) in actors.iter().enumerate() {
        let (round, offset) = (position / k, position % k);
        let group = if round % 2 == 0 {
            offset
        } else {
            k - 1 - offset
        };
        groups[group].push(actor);
    }
    let folds = (0..k)
        .map(|index| {
            let test = groups[index].clone();
            let validation = groups[(index + 1) % k].clone();
            let train = actors
                .iter()
                .copied()
                .filter(|a| !test.contains(a) && !validation.contains(a))
                .collect();
            Fold {
                index,
                test,
                validation,
                train,
            }
        })
        .collect();
    Ok(FoldPlan {
        kind: PlanKind::Reduced,
        folds,
    })
}

/// The paper plan when all of its actors are present, else an error naming the missing ones
/// (`reduced = false`); the reduced plan over the present actors when `reduced = true`.
pub fn plan_for(present: &[u8], reduced: bool, data_dir: &std::path::Path) -> Result<FoldPlan> {
    if reduced {
        return reduced_plan(present);
    }
    let missing: Vec<u8> = (1..=NUM_ACTORS).filter(|a| !present.contains(a)).collect();
    if missing.is_empty() {
        Ok(paper_plan())
    } else {
        Err(ExperimentError::MissingActors {
            missing,
            data_dir: data_dir.to_path_buf(),
        })
    }
}

impl Fold {
    /// Role of `actor` in this fold, or `None` if the fold does not use it.
    pub fn role_of(&self, actor: u8) -> Option<Role> {
        if self.test.contains(&actor) {
            Some(Role::Test)
        } else if self.validation.contains(&actor) {
            Some(Role::Validation)
        } else if self.train.contains(&actor) {
            Some(Role::Train)
        } else {
            None
        }
    }

    /// True when no actor has two roles and every role is non-empty.
    pub fn is_speaker_independent(&self) -> bool {
        let mut seen = BTreeSet::new();
        let all = self.test.iter().chain(&self.validation).chain(&self.train);
        let distinct = all.clone().all(|a| seen.insert(*a));
        distinct && !self.test.is_empty() && !self.validation.is_empty() && !self.train.is_empty()
    }
}

impl FoldPlan {
    /// Every actor used by the plan, ascending.
    pub fn actors(&self) -> Vec<u8> {
        let set: BTreeSet<u8> = self
            .folds
            .iter()
            .flat_map(|f| f.test.iter().chain(&f.validation).chain(&f.train).copied())
            .collect();
        set.into_iter().collect()
    }

    /// How many folds test `actor`.
    pub fn times_tested(&self, actor: u8) -> usize {
        self.folds
            .iter()
            .filter(|f| f.test.contains(&actor))
            .count()
    }

    /// One line per fold, e.g. `fold 1: test [2, 5] | val [3, 6] | train 17 actors`.
    pub fn describe(&self) -> String {
        let mut s = format!("fold plan: {:?}, {} folds\n", self.kind, self.folds.len());
        for f in &self.folds {
            s += &format!(
                "  fold {}: test {:?} | validation {:?} | train {:?}\n",
                f.index + 1,
                f.test,
                f.validation,
                f.train
            );
        }
        s
    }
}

fn sorted(actors: &[u8]) -> Vec<u8> {
    let mut v = actors.to_vec();
    v.sort_unstable();
    v
}
