//! `storebot-admin segments stats [SEGMENT]`: segment insight. Without a segment, a table of
//! every segment's members, share of shoppers, revenue share and average check; with one, the
//! same figures and its joins and leaves per day (`--days`, default 30) as sparklines and a
//! bar per day. `--json` prints the same data.

use anyhow::Result;
use storebot::store::membership::definitions;
use storebot::store::membership::stats::{self, DayMoves};

use crate::context::Context;
use crate::format::money;
use crate::table::Table;

const BLOCKS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
/// The widest bar, in characters.
const BAR: u64 = 30;

pub async fn run(cx: &Context, segment: Option<String>, days: u32) -> Result<()> {
    let db = &cx.db;
    let currency = &cx.settings.store.currency;
    let (totals, figures) = stats::overview(db, cx.counted_statuses()).await?;
    let percent = |ratio: f64| format!("{:.1}%", ratio * 100.0);
    let Some(key) = segment else {
        let shown = serde_json::json!({ "totals": totals, "segments": figures });
        if !cx.json_out(&shown)? {
            let mut table = Table::new([
                "segment",
                "members",
                "of shoppers",
                "revenue",
                "of revenue",
                "orders",
                "average check",
            ]);
            for row in &figures {
                table.row(vec![
                    row.name.clone(),
                    row.members.to_string(),
                    percent(row.share_of_shoppers),
                    money(row.revenue, currency),
                    percent(row.revenue_share),
                    row.orders.to_string(),
                    row.average_check
                        .map_or_else(|| "-".to_owned(), |check| money(check, currency)),
                ]);
            }
            table.print("No segments yet.");
            println!(
                "{} shoppers; counted revenue {} in {} orders.",
                totals.shoppers,
                money(totals.revenue, currency),
                totals.orders
            );
        }
        return Ok(());
    };
    let segment = definitions::find(db, &key).await?;
    let Some(row) = figures.into_iter().find(|row| row.segment_id == segment.id) else {
        anyhow::bail!("segment `{}` disappeared while reading", segment.name);
    };
    let moves =
        stats::moves_per_day(db, segment.id, days, cx.now(), cx.settings.store.time_zone).await?;
    let shown = serde_json::json!({ "totals": totals, "segment": row, "days": moves });
    if cx.json_out(&shown)? {
        return Ok(());
    }
    println!("Segment `{}`", row.name);
    println!(
        "  members: {} of {} shoppers ({})",
        row.members,
        totals.shoppers,
        percent(row.share_of_shoppers)
    );
    println!(
        "  revenue: {} of {} ({}) in {} orders",
        money(row.revenue, currency),
        money(totals.revenue, currency),
        percent(row.revenue_share),
        row.orders
    );
    println!(
        "  average check: {}",
        row.average_check
            .map_or_else(|| "no orders".to_owned(), |check| money(check, currency))
    );
    let joined: u64 = moves.iter().map(|day| day.joined).sum();
    let left: u64 = moves.iter().map(|day| day.left).sum();
    println!("  last {} days: {joined} joined, {left} left", moves.len());
    println!(
        "  joins  {}",
        sparkline(&moves.iter().map(|d| d.joined).collect::<Vec<_>>())
    );
    println!(
        "  leaves {}",
        sparkline(&moves.iter().map(|d| d.left).collect::<Vec<_>>())
    );
    print!("{}", bars(&moves));
    Ok(())
}

/// One character per value, its height relative to the largest (a space for zero).
pub fn sparkline(values: &[u64]) -> String {
    let top = values.iter().copied().max().unwrap_or(0);
    values
        .iter()
        .map(|&value| {
            if value == 0 || top == 0 {
                ' '
            } else {
                // 1..=8 eighths of the largest value, the smallest non-zero one a low block.
                let eighths = (value * 8).div_ceil(top);
                BLOCKS[usize::try_from(eighths.saturating_sub(1))
                    .unwrap_or(7)
                    .min(7)]
            }
        })
        .collect()
}

/// A line per day with moves: the date, `+joined` and `-left` with bars scaled to the busiest
/// day.
fn bars(moves: &[DayMoves]) -> String {
    let top = moves
        .iter()
        .map(|day| day.joined.max(day.left))
        .max()
        .unwrap_or(0);
    let width = |value: u64| {
        if top == 0 || value == 0 {
            0
        } else {
            usize::try_from((value * BAR).div_ceil(top)).unwrap_or(0)
        }
    };
    let mut out = String::new();
    for day in moves.iter().filter(|day| day.joined + day.left > 0) {
        out.push_str(&format!(
            "  {}  +{:<4} {:<w$}  -{:<4} {}\n",
            day.day,
            day.joined,
            "█".repeat(width(day.joined)),
            day.left,
            "░".repeat(width(day.left)),
            w = usize::try_from(BAR).unwrap_or(30),
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sparkline_scales_to_the_largest_value_and_leaves_zero_blank() {
        assert_eq!(sparkline(&[0, 1, 7, 14]), " ▁▄█");
        assert_eq!(sparkline(&[0, 0]), "  ");
        assert_eq!(sparkline(&[]), "");
    }
}
