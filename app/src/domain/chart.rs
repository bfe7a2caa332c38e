//! The arithmetic of charts, kept apart from rendering so it can be tested: linear
//! scales, "nice" axis ticks, and SVG paths that break at missing values.

/// Maps a data interval onto a pixel interval.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Scale {
    pub domain: (f64, f64),
    pub range: (f64, f64),
}

impl Scale {
    /// A scale; a zero-width domain is widened so every value still lands in range.
    pub fn new(domain: (f64, f64), range: (f64, f64)) -> Scale {
        let (lo, hi) = domain;
        let domain = if (hi - lo).abs() < f64::EPSILON {
            (lo - 1.0, hi + 1.0)
        } else {
            (lo, hi)
        };
        Scale { domain, range }
    }

    pub fn map(&self, v: f64) -> f64 {
        let (d0, d1) = self.domain;
        let (r0, r1) = self.range;
        r0 + (v - d0) / (d1 - d0) * (r1 - r0)
    }
}

/// Round tick values covering `[min, max]`, about `count` of them (1, 2 or 5 × 10ⁿ apart).
pub fn nice_ticks(min: f64, max: f64, count: usize) -> Vec<f64> {
    if !(min.is_finite() && max.is_finite()) || count == 0 {
        return Vec::new();
    }
    let (min, max) = if max > min {
        (min, max)
    } else {
        (min - 1.0, min + 1.0)
    };
    let raw = (max - min) / count as f64;
    let magnitude = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * magnitude)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * magnitude);
    let first = (min / step).floor() * step;
    let mut ticks = Vec::new();
    let mut t = first;
    while t <= max + step * 1e-9 && ticks.len() < 1000 {
        if t >= min - step * 1e-9 {
            // Avoid -0 and float dust such as 0.30000000000000004.
            ticks.push(((t / step).round() * step * 1e9).round() / 1e9 + 0.0);
        }
        t += step;
    }
    ticks
}

/// Ticks from 0 that reach at least `max`, for an axis whose top must hold every value.
pub fn ticks_from_zero(max: f64, count: usize) -> Vec<f64> {
    let mut ticks = nice_ticks(0.0, max, count);
    if let (Some(&last), Some(step)) = (ticks.last(), ticks.get(1).map(|t| t - ticks[0])) {
        if last < max && step > 0.0 {
            ticks.push(((last + step) * 1e9).round() / 1e9);
        }
    }
    ticks
}

/// An SVG path through the points; a `None` value lifts the pen, so gaps stay gaps.
pub fn line_path(points: &[(f64, Option<f64>)], x: &Scale, y: &Scale) -> String {
    let mut d = String::new();
    let mut pen_down = false;
    for (px, py) in points {
        match py {
            Some(v) => {
                let cmd = if pen_down { 'L' } else { 'M' };
                d.push_str(&format!("{cmd}{:.1},{:.1} ", x.map(*px), y.map(*v)));
                pen_down = true;
            }
            None => pen_down = false,
        }
    }
    d.trim_end().to_owned()
}

/// The index of the point nearest to `x` (by the x coordinate), if any.
pub fn nearest(xs: &[f64], x: f64) -> Option<usize> {
    xs.iter()
        .enumerate()
        .min_by(|a, b| (a.1 - x).abs().total_cmp(&(b.1 - x).abs()))
        .map(|(i, _)| i)
}

/// The label under a bar: "14 Mar" for a day or a week (its Monday), "Mar 2026" for a
/// month.
pub fn bucket_label(bucket: crate::domain::buckets::Bucket, date: chrono::NaiveDate) -> String {
    use crate::domain::buckets::Bucket;
    match bucket {
        Bucket::Day | Bucket::Week => super::date_text::day_month(date),
        Bucket::Month => super::date_text::month_abbr_year(date),
    }
}

/// Which of `count` bars get an axis label so that at most `max_labels` do: every
/// `step`-th, counted from the newest bar so the current bucket is always labelled.
pub fn label_step(count: usize, max_labels: usize) -> usize {
    if max_labels == 0 {
        return usize::MAX;
    }
    count.div_ceil(max_labels).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_are_labelled_by_day_or_month() {
        use crate::domain::buckets::Bucket;
        let d = chrono::NaiveDate::from_ymd_opt(2026, 3, 9).unwrap();
        assert_eq!(bucket_label(Bucket::Day, d), "9 Mar");
        assert_eq!(bucket_label(Bucket::Week, d), "9 Mar");
        assert_eq!(bucket_label(Bucket::Month, d), "Mar 2026");
    }

    #[test]
    fn labels_are_thinned_to_fit() {
        assert_eq!(label_step(30, 8), 4);
        assert_eq!(label_step(7, 8), 1);
        assert_eq!(label_step(0, 8), 1);
        assert_eq!(label_step(400, 10), 40);
        assert_eq!(label_step(5, 0), usize::MAX);
    }

    #[test]
    fn scales_map_linearly_and_may_invert() {
        let s = Scale::new((0.0, 100.0), (200.0, 0.0));
        assert_eq!(s.map(0.0), 200.0);
        assert_eq!(s.map(50.0), 100.0);
        assert_eq!(s.map(100.0), 0.0);
    }

    #[test]
    fn a_flat_domain_still_maps_inside_the_range() {
        let s = Scale::new((7.0, 7.0), (0.0, 100.0));
        assert_eq!(s.map(7.0), 50.0);
    }

    #[test]
    fn ticks_are_round_numbers_covering_the_range() {
        assert_eq!(
            nice_ticks(0.0, 100.0, 5),
            vec![0.0, 20.0, 40.0, 60.0, 80.0, 100.0]
        );
        assert_eq!(nice_ticks(0.0, 10.9, 4), vec![0.0, 5.0, 10.0]);
        assert_eq!(nice_ticks(0.1, 0.9, 4), vec![0.2, 0.4, 0.6, 0.8]);
        assert_eq!(nice_ticks(5.0, 5.0, 4), vec![4.0, 4.5, 5.0, 5.5, 6.0]);
        assert!(nice_ticks(f64::NAN, 1.0, 4).is_empty());
    }

    #[test]
    fn an_axis_from_zero_holds_the_largest_value() {
        assert_eq!(ticks_from_zero(10.9, 4), vec![0.0, 5.0, 10.0, 15.0]);
        assert_eq!(ticks_from_zero(10.0, 4), vec![0.0, 5.0, 10.0]);
        assert_eq!(ticks_from_zero(150.0, 4), vec![0.0, 50.0, 100.0, 150.0]);
    }

    #[test]
    fn paths_break_at_missing_values() {
        let x = Scale::new((0.0, 3.0), (0.0, 30.0));
        let y = Scale::new((0.0, 10.0), (100.0, 0.0));
        let d = line_path(
            &[
                (0.0, Some(0.0)),
                (1.0, Some(10.0)),
                (2.0, None),
                (3.0, Some(5.0)),
            ],
            &x,
            &y,
        );
        assert_eq!(d, "M0.0,100.0 L10.0,0.0 M30.0,50.0");
        assert_eq!(line_path(&[], &x, &y), "");
    }

    #[test]
    fn nearest_point_by_x() {
        assert_eq!(nearest(&[0.0, 10.0, 20.0], 12.0), Some(1));
        assert_eq!(nearest(&[0.0, 10.0, 20.0], 16.0), Some(2));
        assert_eq!(nearest(&[], 1.0), None);
    }
}
