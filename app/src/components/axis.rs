//! Axis labels drawn as HTML over a chart's SVG. The SVG scales to the chart's width,
//! and text inside it would scale too (a 720-unit chart on a 360 px phone halves it);
//! these labels sit at the same points, in percent of the plot, and keep their CSS size.

use crate::domain::chart::{ticks_from_zero, Scale};
use crate::domain::fleet::format_number;
use leptos::prelude::*;

/// Which side of its point a label sits on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Anchor {
    /// Starts at the point (a label right of an axis).
    Start,
    /// Centred on it (under a bar or a time).
    Middle,
    /// Ends at it (a label left of an axis).
    End,
}

impl Anchor {
    fn as_str(self) -> &'static str {
        match self {
            Anchor::Start => "start",
            Anchor::Middle => "middle",
            Anchor::End => "end",
        }
    }
}

/// A plot: the SVG (`width` × `height` in its own units, stretched to the box) and the
/// labels over it.
#[component]
pub fn Plot(width: f64, height: f64, children: Children) -> impl IntoView {
    view! {
        <div class="plot" style=format!("--plot-ratio: {width} / {height}")>
            {children()}
        </div>
    }
}

/// A label at (`x`, `y`) of a `width` × `height` plot. `minor` labels give way on
/// narrow screens, where there is room for every other one.
#[component]
pub fn AxisLabel(
    x: f64,
    y: f64,
    width: f64,
    height: f64,
    anchor: Anchor,
    text: String,
    #[prop(optional)] minor: bool,
) -> impl IntoView {
    let style = format!(
        "left: {:.3}%; top: {:.3}%",
        x / width * 100.0,
        y / height * 100.0
    );
    view! {
        <span
            class="tick"
            class:minor=minor
            data-anchor=anchor.as_str()
            style=style
            aria-hidden="true"
        >
            {text}
        </span>
    }
}

/// A chart's value axis, on its left: round ticks from zero to above the largest value,
/// drawn as grid lines across the plot and labels beside the axis, alike in every chart.
#[derive(Debug, Clone, PartialEq)]
pub struct ValueAxis {
    pub ticks: Vec<f64>,
    /// Where a value falls, in the plot's units.
    pub y: Scale,
    width: f64,
    height: f64,
    left: f64,
    right: f64,
}

impl ValueAxis {
    /// The axis for values up to `max`, in a `width` × `height` plot whose area leaves
    /// these margins (`[left, right, top, bottom]`).
    pub fn from_zero(max: f64, width: f64, height: f64, margins: [f64; 4]) -> ValueAxis {
        let [left, right, top, bottom] = margins;
        let ticks = ticks_from_zero(max.max(1.0), 4);
        let highest = ticks.last().copied().unwrap_or(1.0);
        ValueAxis {
            y: Scale::new((0.0, highest), (height - bottom, top)),
            ticks,
            width,
            height,
            left,
            right,
        }
    }

    /// The grid lines, for inside the plot's `<svg>`.
    pub fn grid(&self) -> impl IntoView {
        let (x1, x2) = (self.left, self.width - self.right);
        self.ticks
            .iter()
            .map(|t| {
                let y = self.y.map(*t);
                view! { <line class="grid" x1=x1 x2=x2 y1=y y2=y /> }
            })
            .collect_view()
    }

    /// The values, as labels left of the axis.
    pub fn labels(&self) -> impl IntoView {
        self.ticks
            .iter()
            .map(|t| {
                view! {
                    <AxisLabel
                        x=self.left - 6.0
                        y=self.y.map(*t)
                        width=self.width
                        height=self.height
                        anchor=Anchor::End
                        text=format_number(*t)
                    />
                }
            })
            .collect_view()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_value_axis_runs_from_zero_at_the_plot_bottom_to_a_round_top() {
        let axis = ValueAxis::from_zero(7.3, 720.0, 220.0, [48.0, 12.0, 12.0, 28.0]);
        assert_eq!(axis.ticks.first(), Some(&0.0));
        let top = *axis.ticks.last().unwrap();
        assert!(top >= 7.3, "{:?}", axis.ticks);
        assert_eq!(axis.y.map(0.0), 192.0);
        assert_eq!(axis.y.map(top), 12.0);
        // Nothing to show still gives an axis to draw.
        let empty = ValueAxis::from_zero(0.0, 720.0, 220.0, [48.0, 12.0, 12.0, 28.0]);
        assert!(empty.ticks.len() >= 2, "{:?}", empty.ticks);
    }
}
