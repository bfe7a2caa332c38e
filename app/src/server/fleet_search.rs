//! The fleet search: which vehicles a search matches, read through an index of the
//! words of their names rather than by reading every name.
//!
//! A vehicle's name is cut into words (`domain::fleet::search_words`: make, model, year
//! and the parts of its id), and each word is a row of `vehicle_terms`, rewritten when
//! the name changes. A search matches the vehicles that have, for each of its words, a
//! word starting with it: "nis" finds "Nissan Leaf", "leaf 2021" the Leafs of 2021,
//! "9a61" the vehicle whose id starts so.
//!
//! How a page of matches is read follows how many there are. Each word of the search
//! is counted by one range of the index, and the rarest decides:
//! - none: no match, and nothing more is read;
//! - up to [`FEW`]: their ids are read from the index and the page is sorted from them;
//! - more: the page walks the sort order testing each name (`sort_name` holds the words
//!   joined by spaces), since common matches fill a page soon; they are counted from
//!   the index.
//!
//! So a search costs what it matches, not the size of the fleet.

use super::entities::{vehicle_terms, vehicles};
use crate::domain::fleet::search_words;
use sea_orm::sea_query::{Expr, ExprTrait, Query};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QuerySelect,
};

/// Up to this many matches, a page is sorted from the matches themselves (a lookup
/// each); beyond it, walking the sort order finds a page of them sooner.
pub const FEW: u64 = 500;

/// Words written per insert statement.
const WORDS_PER_INSERT: usize = 500;

/// How a search's matches are read.
#[derive(Debug, Clone, PartialEq)]
pub enum Search {
    /// No search: every vehicle matches.
    Everyone,
    /// A word of the search begins no vehicle's word.
    Nobody,
    /// The vehicles with a word beginning the search's rarest word (ids, at most
    /// [`FEW`]) that match its other words.
    Among {
        ids: Vec<String>,
        words: Vec<String>,
    },
    /// Many vehicles match each word: `rarest` begins words of `count` vehicles.
    Common {
        words: Vec<String>,
        rarest: String,
        count: u64,
    },
}

/// The words of the index that begin with `word`: a range of their bytes.
fn begins(word: &str) -> Condition {
    use vehicle_terms::Column as T;
    Condition::all()
        .add(T::Term.gte(word))
        .add(T::Term.lt(format!("{word}{}", char::MAX)))
}

/// Names (`sort_name`, words joined by spaces) with a word beginning with `word`.
fn name_has(word: &str) -> Condition {
    use vehicles::Column as C;
    Condition::any()
        .add(C::SortName.like(format!("{word}%")))
        .add(C::SortName.like(format!("% {word}%")))
}

/// How many vehicles have a word beginning with `word`.
async fn vehicles_with(db: &impl ConnectionTrait, word: &str) -> Result<u64, DbErr> {
    let count: Option<i64> = vehicle_terms::Entity::find()
        .select_only()
        .column_as(
            Expr::col(vehicle_terms::Column::VehicleId).count_distinct(),
            "n",
        )
        .filter(begins(word))
        .into_tuple()
        .one(db)
        .await?;
    Ok(count.map_or(0, |n| n.unsigned_abs()))
}

impl Search {
    /// How to read the matches of the search `q` (empty: no search; with no letter or
    /// digit: no match), sorting up to `few` matches from their ids ([`FEW`] but in
    /// tests).
    pub async fn plan(db: &impl ConnectionTrait, q: &str, few: u64) -> Result<Search, DbErr> {
        if q.trim().is_empty() {
            return Ok(Search::Everyone);
        }
        let mut words = search_words(q);
        words.sort();
        words.dedup();
        let mut rarest: Option<(u64, &String)> = None;
        for word in &words {
            let count = vehicles_with(db, word).await?;
            if count == 0 {
                return Ok(Search::Nobody);
            }
            if rarest.is_none_or(|(fewest, _)| count < fewest) {
                rarest = Some((count, word));
            }
        }
        let Some((count, rarest)) = rarest else {
            return Ok(Search::Nobody);
        };
        let others: Vec<String> = words.iter().filter(|w| *w != rarest).cloned().collect();
        if count > few {
            return Ok(Search::Common {
                rarest: rarest.clone(),
                count,
                words,
            });
        }
        let ids: Vec<String> = vehicle_terms::Entity::find()
            .select_only()
            .column(vehicle_terms::Column::VehicleId)
            .distinct()
            .filter(begins(rarest))
            .into_tuple()
            .all(db)
            .await?;
        Ok(Search::Among { ids, words: others })
    }

    /// The rows a page reads (`Nobody`: none).
    pub fn condition(&self) -> Condition {
        let all_words = |words: &[String]| {
            words
                .iter()
                .fold(Condition::all(), |c, w| c.add(name_has(w)))
        };
        match self {
            Search::Everyone => Condition::all(),
            Search::Nobody => Condition::all().add(Expr::val(false)),
            Search::Among { ids, words } => {
                all_words(words).add(vehicles::Column::Id.is_in(ids.iter().map(String::as_str)))
            }
            Search::Common { words, .. } => all_words(words),
        }
    }

    /// The rows to count: as [`Search::condition`], but a common search reads only the
    /// vehicles its rarest word begins a word of.
    pub fn count_condition(&self) -> Condition {
        match self {
            Search::Common { rarest, .. } => self.condition().add(
                vehicles::Column::Id.in_subquery(
                    Query::select()
                        .column(vehicle_terms::Column::VehicleId)
                        .from(vehicle_terms::Entity)
                        .cond_where(begins(rarest))
                        .to_owned(),
                ),
            ),
            _ => self.condition(),
        }
    }

    /// The number of matches, when the index alone tells it (`filtered`: a status
    /// filter applies too).
    pub fn known_count(&self, filtered: bool) -> Option<u64> {
        match self {
            Search::Nobody => Some(0),
            Search::Common { words, count, .. } if words.len() == 1 && !filtered => Some(*count),
            _ => None,
        }
    }
}

/// Writes the words of these vehicles' names (id, name as `sort_name`) in place of
/// those they had.
pub async fn rewrite(db: &impl ConnectionTrait, names: &[(&str, &str)]) -> Result<(), DbErr> {
    if names.is_empty() {
        return Ok(());
    }
    vehicle_terms::Entity::delete_many()
        .filter(vehicle_terms::Column::VehicleId.is_in(names.iter().map(|(id, _)| *id)))
        .exec(db)
        .await?;
    let mut rows: Vec<vehicle_terms::ActiveModel> = Vec::new();
    for (id, name) in names {
        let mut words: Vec<&str> = name.split(' ').filter(|w| !w.is_empty()).collect();
        words.sort_unstable();
        words.dedup();
        rows.extend(words.into_iter().map(|word| vehicle_terms::ActiveModel {
            term: sea_orm::ActiveValue::Set(word.to_owned()),
            vehicle_id: sea_orm::ActiveValue::Set((*id).to_owned()),
        }));
    }
    for chunk in rows.chunks(WORDS_PER_INSERT) {
        vehicle_terms::Entity::insert_many(chunk.to_vec())
            .exec_without_returning(db)
            .await?;
    }
    Ok(())
}
