//! The document's shape: what `export` writes and `apply` reads, by name throughout.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::coupons::Discount;
use crate::store::StoreError;
use crate::store::orders::coupons::{CouponView, NewCoupon};

/// The whole document.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreConfig {
    /// Absent: apply leaves questions alone. Present: apply makes them match, archiving
    /// those missing from the list.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub questions: Option<Vec<QuestionConfig>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub segments: Option<Vec<SegmentConfig>>,
    /// Absent: apply leaves availability alone. Present: products not listed are opened to
    /// all segments.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub availability: Option<Vec<ProductAvailability>>,
    /// Absent: apply leaves product segments alone. Present: each listed one is created or
    /// updated by name and its grants made to match; unlisted ones are kept and reported.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub product_segments: Option<Vec<ProductSegmentConfig>>,
    /// Absent: apply leaves coupons alone. Present: each listed one is created or rewritten
    /// by code; unlisted ones are kept and reported.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub coupons: Option<Vec<CouponConfig>>,
    /// Absent: apply leaves photos alone. Present: each entry sets the photo of a product
    /// (by title) or a variant (by SKU); photos not listed are kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub images: Option<Vec<ImageConfig>>,
}

/// One photo: of `product` (a title) or of the variant `sku`, exactly one of them. `image`
/// is an `https://` URL or a JPEG/PNG path (relative to the directory apply runs in), or
/// `none` to remove it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImageConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub product: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sku: Option<String>,
    pub image: String,
}

/// A coupon's settings, with its segments named. Its usage (how often it was redeemed) is
/// history, not a setting, so it is neither exported nor applied.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CouponConfig {
    pub code: String,
    /// Whole percent off each covered line (1–100); give this or `amount_off`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub percent: Option<i64>,
    /// Minor units off the covered lines in all; give this or `percent`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amount_off: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub starts_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ends_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage_limit: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub per_customer_limit: Option<i32>,
    #[serde(default = "yes")]
    pub active: bool,
    /// Segment names.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub segments: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub user_groups: Vec<String>,
}

impl CouponConfig {
    pub(super) fn from_view(view: CouponView) -> Self {
        let coupon = view.coupon;
        let discount = Discount::from_stored(&coupon.kind, coupon.amount);
        Self {
            percent: matches!(discount, Some(Discount::Percent(_))).then_some(coupon.amount),
            amount_off: matches!(discount, Some(Discount::Fixed(_))).then_some(coupon.amount),
            code: coupon.code,
            starts_at: coupon.starts_at,
            ends_at: coupon.ends_at,
            usage_limit: coupon.usage_limit,
            per_customer_limit: coupon.per_customer_limit,
            active: coupon.active,
            segments: sorted(view.segments.into_iter().map(|s| s.name)),
            user_groups: sorted(view.user_groups),
        }
    }

    pub(super) fn to_new(&self) -> Result<NewCoupon, StoreError> {
        let invalid = |why: String| StoreError::Invalid(format!("coupon `{}`: {why}", self.code));
        let discount = match (self.percent, self.amount_off) {
            (Some(percent), None) => Discount::percent(percent),
            (None, Some(minor)) => Discount::fixed(minor),
            _ => return Err(invalid("give either `percent` or `amount_off`".into())),
        }
        .map_err(|error| invalid(error.to_string()))?;
        Ok(NewCoupon {
            code: self.code.clone(),
            discount,
            starts_at: self.starts_at,
            ends_at: self.ends_at,
            usage_limit: self.usage_limit,
            per_customer_limit: self.per_customer_limit,
            segments: self.segments.clone(),
            user_groups: self.user_groups.clone(),
        })
    }
}

/// A product segment with categories and customer segments named, so the file applies to
/// another database.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProductSegmentConfig {
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// Category names.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub categories: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub brands: Vec<String>,
    /// Minor units.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub price_min: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub price_max: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contains: Option<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub in_stock: bool,
    /// Customer segments granted it, by name.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub granted_to: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QuestionConfig {
    pub text: String,
    /// `single` or `multiple`.
    pub kind: String,
    pub required: bool,
    pub options: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SegmentConfig {
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// `auto` or `manual`.
    pub kind: String,
    #[serde(default = "yes")]
    pub active: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub starts_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_group: Option<String>,
    /// The rule in the rule language (`order count >= 1 and in segment "VIP"`), as export
    /// writes it; or, as older files have it, the tree in the stored format with questions and
    /// options named by their text, segments by name, variants by SKU and products by title.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule: Option<Value>,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProductAvailability {
    /// The product's title.
    pub product: String,
    /// Segment names, or absent for all segments.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub segments: Option<Vec<String>>,
    /// Per-variant audiences; present means by-variant mode.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variants: Option<Vec<VariantAvailability>>,
}

/// One variant's audience: segment names, or absent for all segments.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VariantAvailability {
    pub sku: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub segments: Option<Vec<String>>,
}

/// Sorted, without repeats: the order a file's list is compared in.
pub(super) fn sorted(items: impl IntoIterator<Item = String>) -> Vec<String> {
    items
        .into_iter()
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect()
}
