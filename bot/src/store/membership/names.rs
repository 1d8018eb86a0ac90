//! The store's names for the rule language: questions and their answers (archived ones too, so
//! that old rules still read), product titles, SKUs and segment names, by id.

use sea_orm::{ConnectionTrait, EntityTrait};
use storebot_entity::{product, segment, variant};

use crate::segments::language::{OptionName, QuestionName, RuleNames};
use crate::store::StoreError;
use crate::store::shoppers::questions;

/// Everything a rule can name, as it is now, with `currency` for amounts.
pub async fn rule_names(
    db: &impl ConnectionTrait,
    currency: &str,
) -> Result<RuleNames, StoreError> {
    let questions = questions::list(db, true)
        .await?
        .into_iter()
        .map(|view| {
            let options = view
                .options
                .into_iter()
                .map(|option| {
                    let name = OptionName {
                        text: option.text,
                        archived: option.archived,
                    };
                    (option.id, name)
                })
                .collect();
            let name = QuestionName {
                text: view.question.text,
                archived: view.question.archived,
                options,
            };
            (view.question.id, name)
        })
        .collect();
    Ok(RuleNames {
        currency: currency.to_owned(),
        questions,
        products: product::Entity::find()
            .all(db)
            .await?
            .into_iter()
            .map(|row| (row.id, row.title))
            .collect(),
        variants: variant::Entity::find()
            .all(db)
            .await?
            .into_iter()
            .map(|row| (row.id, row.sku))
            .collect(),
        segments: segment::Entity::find()
            .all(db)
            .await?
            .into_iter()
            .map(|row| (row.id, row.name))
            .collect(),
    })
}
