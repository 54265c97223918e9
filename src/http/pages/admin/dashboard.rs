//! Admin console: dashboard.

use super::*;

/// The open slot in a few facts.
struct SlotSummary {
    position: u32,
    total_slots: u32,
    status: &'static str,
    ends_at: String,
    ends_in: String,
    clip_count: usize,
}

/// One bar of the chart, laid out in SVG user units.
struct Bar {
    label: String,
    title: String,
    count: u64,
    y: u32,
    text_y: u32,
    width: u32,
    count_x: u32,
}

/// The "votes per clip" chart, laid out on the server.
struct Chart {
    width: u32,
    height: u32,
    bar_x: u32,
    bar_height: u32,
    bars: Vec<Bar>,
    hidden: usize,
}

impl Chart {
    const WIDTH: u32 = 360;
    const BAR_X: u32 = 136;
    const ROW: u32 = 24;
    const BAR_HEIGHT: u32 = 16;
    /// Room left of the bars for labels, right of them for counts.
    const BAR_MAX: u32 = Self::WIDTH - Self::BAR_X - 44;

    fn new(mut clips: Vec<(u64, String, u64)>) -> Chart {
        clips.sort_by(|a, b| b.2.cmp(&a.2).then(a.0.cmp(&b.0)));
        let hidden = clips.len().saturating_sub(CHART_MAX_BARS);
        clips.truncate(CHART_MAX_BARS);
        let max = clips.iter().map(|clip| clip.2).max().unwrap_or(0).max(1);
        let bars: Vec<Bar> = clips
            .into_iter()
            .zip(0u32..)
            .map(|((id, title, count), row)| {
                let y = 4 + row * Self::ROW;
                let scaled = u128::from(count) * u128::from(Self::BAR_MAX) / u128::from(max);
                let width = u32::try_from(scaled).unwrap_or(Self::BAR_MAX);
                Bar {
                    label: shorten(&title, 18),
                    title: format!("#{id} {title}"),
                    count,
                    y,
                    text_y: y + 12,
                    width,
                    count_x: Self::BAR_X + width + 6,
                }
            })
            .collect();
        let rows = u32::try_from(bars.len()).unwrap_or(0);
        Chart {
            width: Self::WIDTH,
            height: rows * Self::ROW + 8,
            bar_x: Self::BAR_X,
            bar_height: Self::BAR_HEIGHT,
            bars,
            hidden,
        }
    }
}

/// `/admin`.
#[derive(Template)]
#[template(path = "admin/dashboard.html")]
struct DashboardPage {
    chrome: Chrome,
    flash: Flash,
    section: &'static str,
    season_title: Option<String>,
    slot: Option<SlotSummary>,
    chart: Chart,
    pending: String,
    flagged: String,
}

/// A count from a bounded page: `20+` when there are more.
fn count_label(count: usize, more: bool) -> String {
    if more { format!("{count}+") } else { count.to_string() }
}

/// `GET /admin`.
pub async fn dashboard(State(state): State<AppState>, caller: Caller, query: QueryResult) -> PageResult {
    let (_, query) = admin_page(&state, &caller, query)?;
    let board = moderation::slot_board(&state.services);
    let story = crate::service::story::story(&state.services);
    let slot = board.open.as_ref().map(|slot| SlotSummary {
        position: slot.position.get(),
        total_slots: story.season.as_ref().map(|s| s.total_slots).unwrap_or(0),
        status: slot.status.as_str(),
        ends_at: slot.voting_ends_at.map(when).unwrap_or_else(|| "—".to_owned()),
        ends_in: slot.voting_ends_at.map(until).unwrap_or_default(),
        clip_count: board.choices.len(),
    });
    let clips: Vec<(u64, String, u64)> =
        board.choices.iter().map(|c| (c.clip.id.get(), c.clip.title.clone(), c.counter.vote_count)).collect();
    let season_title = board.season_title;
    let waiting = moderation::waiting(&state.services, CLIPS_PER_PAGE, FLAGGED_PER_PAGE).await;
    let ((pending, pending_more), (flagged, flagged_more)) =
        waiting.map_err(|error| server_problem(&state, &caller, &error))?;
    let (pending, flagged) = (count_label(pending, pending_more), count_label(flagged, flagged_more));
    let page = DashboardPage {
        chrome: Chrome::new(&state, &caller),
        flash: Flash::from_query(&state, &query),
        section: "dashboard",
        season_title,
        slot,
        chart: Chart::new(clips),
        pending,
        flagged,
    };
    Ok(render(&page, StatusCode::OK))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chart_bars_are_sorted_scaled_and_capped() {
        let clips: Vec<(u64, String, u64)> = (1..=25).map(|id| (id, format!("clip {id}"), id * 2)).collect();
        let chart = Chart::new(clips);
        assert_eq!(chart.bars.len(), CHART_MAX_BARS);
        assert_eq!(chart.hidden, 5);
        assert_eq!(chart.bars[0].count, 50);
        assert_eq!(chart.bars[0].width, Chart::BAR_MAX);
        assert!(chart.bars.windows(2).all(|pair| pair[0].count >= pair[1].count));
        let empty = Chart::new(vec![(1, "quiet".into(), 0)]);
        assert_eq!(empty.bars[0].width, 0);
    }
}
