//! Names to ids for the older document form, whose rules were JSON with names in place of ids
//! (documents exported before rules were written in words still apply).

use std::collections::{BTreeMap, BTreeSet};

use sea_orm::{ConnectionTrait, EntityTrait};
use serde_json::Value;
use storebot_entity::{product, segment, variant};

use crate::store::StoreError;
use crate::store::catalog::availability::Audience;
use crate::store::shoppers::questions::{self};

/// Ids and names of everything a rule or an availability entry can name.
pub(super) struct Names {
    questions: BTreeMap<i64, String>,
    options: BTreeMap<i64, (i64, String)>,
    segments: BTreeMap<i64, String>,
    variants: BTreeMap<i64, String>,
    products: BTreeMap<i64, String>,
}

impl Names {
    pub(super) async fn load(db: &impl ConnectionTrait) -> Result<Self, StoreError> {
        let mut question_names = BTreeMap::new();
        let mut options = BTreeMap::new();
        for view in questions::list(db, true).await? {
            for option in view.options {
                options.insert(option.id, (view.question.id, option.text));
            }
            question_names.insert(view.question.id, view.question.text);
        }
        Ok(Self {
            questions: question_names,
            options,
            segments: segment::Entity::find()
                .all(db)
                .await?
                .into_iter()
                .map(|s| (s.id, s.name))
                .collect(),
            variants: variant::Entity::find()
                .all(db)
                .await?
                .into_iter()
                .map(|v| (v.id, v.sku))
                .collect(),
            products: product::Entity::find()
                .all(db)
                .await?
                .into_iter()
                .map(|p| (p.id, p.title))
                .collect(),
        })
    }

    /// Every segment's name by its id.
    pub(super) fn segment_names(&self) -> &BTreeMap<i64, String> {
        &self.segments
    }

    pub(super) fn audience(&self, names: Option<&Vec<String>>) -> Result<Audience, StoreError> {
        match names {
            None => Ok(Audience::AllSegments),
            Some(names) => names
                .iter()
                .map(|name| {
                    find_id(&self.segments, name)
                        .ok_or_else(|| StoreError::not_found("segment", format!("`{name}`")))
                })
                .collect::<Result<BTreeSet<_>, _>>()
                .map(Audience::Segments),
        }
    }

    pub(super) fn rule_to_ids(&self, node: &mut Value) -> Result<(), StoreError> {
        self.walk(node, &mut |names, kind, object| {
            match kind {
                "answer" => {
                    let Some(text) = object.get("question").and_then(Value::as_str) else {
                        return Ok(());
                    };
                    let question = find_live_question(names, text)?;
                    object.insert("question".into(), Value::from(question));
                    if let Some(Value::Array(options)) = object.get_mut("options") {
                        for option in options.iter_mut() {
                            if let Some(text) = option.as_str() {
                                let id = names
                                    .options
                                    .iter()
                                    .find(|(_, (q, t))| *q == question && t == text)
                                    .map(|(id, _)| *id)
                                    .ok_or_else(|| {
                                        StoreError::Invalid(format!(
                                            "question `{}` has no option `{text}`",
                                            names
                                                .questions
                                                .get(&question)
                                                .cloned()
                                                .unwrap_or_default()
                                        ))
                                    })?;
                                *option = Value::from(id);
                            }
                        }
                    }
                }
                "segment" => {
                    if let Some(name) = object.get("segment").and_then(Value::as_str) {
                        let id = find_id(&names.segments, name).ok_or_else(|| {
                            StoreError::Invalid(format!(
                                "segment `{name}` does not exist (define it earlier in the file)"
                            ))
                        })?;
                        object.insert("segment".into(), Value::from(id));
                    }
                }
                "bought" => {
                    if let Some(Value::Object(item)) = object.get_mut("item") {
                        if let Some(sku) = item.get("variant").and_then(Value::as_str) {
                            let id = find_id(&names.variants, sku).ok_or_else(|| {
                                StoreError::not_found("variant with SKU", format!("`{sku}`"))
                            })?;
                            item.insert("variant".into(), Value::from(id));
                        }
                        if let Some(title) = item.get("product").and_then(Value::as_str) {
                            let id = find_id(&names.products, title).ok_or_else(|| {
                                StoreError::not_found("product", format!("`{title}`"))
                            })?;
                            item.insert("product".into(), Value::from(id));
                        }
                    }
                }
                _ => {}
            }
            Ok(())
        })
    }

    /// Calls `visit` on every node object of a rule tree with its `type`.
    fn walk(
        &self,
        node: &mut Value,
        visit: &mut impl FnMut(
            &Self,
            &str,
            &mut serde_json::Map<String, Value>,
        ) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        let Value::Object(object) = node else {
            return Ok(());
        };
        let kind = object
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        if let Some(Value::Array(children)) = object.get_mut("rules") {
            for child in children.iter_mut() {
                self.walk(child, visit)?;
            }
        }
        visit(self, &kind, object)
    }
}

pub(super) fn find_live_question(names: &Names, text: &str) -> Result<i64, StoreError> {
    find_id(&names.questions, text)
        .ok_or_else(|| StoreError::Invalid(format!("question `{text}` does not exist")))
}

pub(super) fn find_id(map: &BTreeMap<i64, String>, name: &str) -> Option<i64> {
    map.iter()
        .find(|(_, value)| value.as_str() == name.trim())
        .map(|(id, _)| *id)
}
