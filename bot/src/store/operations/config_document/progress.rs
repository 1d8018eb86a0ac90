//! How far an apply has come, for a progress bar: the document's items (questions, segments,
//! product segments, coupons, photos, and every product of the catalog when availability is
//! given) counted as each is made to match. Reporting changes nothing: the apply is one
//! transaction whether anyone watches or not.

/// One report: `done` of `total` items, the last of them from `section` ("questions",
/// "segments", …; empty before the first).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ApplyProgress {
    pub done: usize,
    pub total: usize,
    pub section: &'static str,
}

/// Counts the items done and reports each to the caller's callback.
pub(super) struct Tally<'a> {
    done: usize,
    total: usize,
    report: &'a mut (dyn FnMut(ApplyProgress) + Send),
}

impl<'a> Tally<'a> {
    /// Starts at 0 of `total`, and says so.
    pub(super) fn new(total: usize, report: &'a mut (dyn FnMut(ApplyProgress) + Send)) -> Self {
        report(ApplyProgress {
            done: 0,
            total,
            section: "",
        });
        Self {
            done: 0,
            total,
            report,
        }
    }

    /// One more item of `section` is done.
    pub(super) fn step(&mut self, section: &'static str) {
        self.done += 1;
        // The total is counted before the apply; should the catalog gain a product meanwhile,
        // the bar grows rather than overflowing.
        self.total = self.total.max(self.done);
        (self.report)(ApplyProgress {
            done: self.done,
            total: self.total,
            section,
        });
    }
}
