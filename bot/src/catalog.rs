//! Who may see which variant: the visibility rule of DESIGN.md, as pure functions.
//!
//! A variant is visible to a shopper when it and its product are active and the governing
//! flag says "all segments" or the governing set meets the shopper's segments in force. The
//! product governs unless it is `by_variant`, in which case each variant governs itself. The
//! store's SQL filter implements the same rule set-wise; a test keeps the two in agreement.
//!
//! Product segments widen this: an active variant of an active product is also visible to a
//! shopper when one of their segments in force is granted a product segment (a rule over the
//! catalog, [`crate::product_rule`]) that the variant matches. `VariantAccess::opened_to`
//! carries the customer segments for which that holds.
//! This module does no I/O and reads no clock.

use std::collections::BTreeSet;

/// What visibility needs to know about a product.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProductAccess {
    pub active: bool,
    pub all_segments: bool,
    pub by_variant: bool,
    /// Segments allowed to see the product when it is neither `all_segments` nor `by_variant`.
    pub segments: BTreeSet<i64>,
}

/// What visibility needs to know about a variant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VariantAccess {
    pub active: bool,
    pub all_segments: bool,
    /// Segments allowed to see the variant when its product is `by_variant`.
    pub segments: BTreeSet<i64>,
    /// Customer segments granted a product segment that this variant matches: they see it
    /// whatever the product's or variant's own restriction says.
    pub opened_to: BTreeSet<i64>,
}

/// Why a variant is hidden from a shopper, in the order the rule checks it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hidden {
    ProductInactive,
    VariantInactive,
    /// The product is restricted to segments the shopper is not in.
    ProductRestricted,
    /// The product is by-variant and this variant is restricted to segments the shopper is not
    /// in.
    VariantRestricted,
}

impl std::fmt::Display for Hidden {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::ProductInactive => "the product is inactive",
            Self::VariantInactive => "the variant is inactive",
            Self::ProductRestricted => {
                "the product is restricted to segments the shopper is not in"
            }
            Self::VariantRestricted => {
                "the variant is restricted to segments the shopper is not in"
            }
        })
    }
}

/// Whether a shopper in `segments_in_force` may see `variant` of `product`, and if not, why.
pub fn variant_visibility(
    product: &ProductAccess,
    variant: &VariantAccess,
    segments_in_force: &BTreeSet<i64>,
) -> Result<(), Hidden> {
    if !product.active {
        return Err(Hidden::ProductInactive);
    }
    if !variant.active {
        return Err(Hidden::VariantInactive);
    }
    if !variant.opened_to.is_disjoint(segments_in_force) {
        return Ok(());
    }
    if product.by_variant {
        if variant.all_segments || !variant.segments.is_disjoint(segments_in_force) {
            Ok(())
        } else {
            Err(Hidden::VariantRestricted)
        }
    } else if product.all_segments || !product.segments.is_disjoint(segments_in_force) {
        Ok(())
    } else {
        Err(Hidden::ProductRestricted)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(ids: &[i64]) -> BTreeSet<i64> {
        ids.iter().copied().collect()
    }

    fn product(all_segments: bool, by_variant: bool, segments: &[i64]) -> ProductAccess {
        ProductAccess {
            active: true,
            all_segments,
            by_variant,
            segments: set(segments),
        }
    }

    fn variant(all_segments: bool, segments: &[i64]) -> VariantAccess {
        VariantAccess {
            active: true,
            all_segments,
            segments: set(segments),
            opened_to: BTreeSet::new(),
        }
    }

    fn check(p: ProductAccess, v: VariantAccess, shopper: &[i64], expected: Result<(), Hidden>) {
        assert_eq!(
            variant_visibility(&p, &v, &set(shopper)),
            expected,
            "{p:?} {v:?} {shopper:?}"
        );
    }

    #[test]
    fn all_segments_product_is_seen_by_everybody() {
        check(product(true, false, &[]), variant(false, &[]), &[], Ok(()));
    }

    #[test]
    fn restricted_product_needs_a_shared_segment() {
        check(
            product(false, false, &[1, 2]),
            variant(true, &[]),
            &[2],
            Ok(()),
        );
        check(
            product(false, false, &[1, 2]),
            variant(true, &[]),
            &[3],
            Err(Hidden::ProductRestricted),
        );
    }

    #[test]
    fn product_restricted_to_no_segment_is_seen_by_nobody() {
        check(
            product(false, false, &[]),
            variant(true, &[]),
            &[1, 2, 3],
            Err(Hidden::ProductRestricted),
        );
    }

    #[test]
    fn by_variant_product_lets_each_variant_decide() {
        // The product's own flag and set no longer matter.
        check(product(false, true, &[]), variant(true, &[]), &[], Ok(()));
        check(product(true, true, &[]), variant(false, &[7]), &[7], Ok(()));
        check(
            product(true, true, &[7]),
            variant(false, &[8]),
            &[7],
            Err(Hidden::VariantRestricted),
        );
    }

    #[test]
    fn a_granted_product_segment_opens_a_restricted_variant_to_its_segments_only() {
        let mut v = variant(false, &[8]);
        v.opened_to = set(&[5]);
        check(product(false, false, &[]), v.clone(), &[5], Ok(()));
        check(product(true, true, &[]), v.clone(), &[5], Ok(()));
        check(
            product(false, true, &[]),
            v.clone(),
            &[6],
            Err(Hidden::VariantRestricted),
        );
        let mut inactive = v;
        inactive.active = false;
        check(
            product(false, false, &[]),
            inactive,
            &[5],
            Err(Hidden::VariantInactive),
        );
    }

    #[test]
    fn inactive_product_or_variant_hides_it_from_everybody() {
        let mut p = product(true, false, &[]);
        p.active = false;
        check(p, variant(true, &[]), &[1], Err(Hidden::ProductInactive));
        let mut v = variant(true, &[]);
        v.active = false;
        check(
            product(true, false, &[]),
            v,
            &[1],
            Err(Hidden::VariantInactive),
        );
    }
}
