//! Axis labels drawn as HTML over a chart's SVG. The SVG scales to the chart's width,
//! and text inside it would scale too (a 720-unit chart on a 360 px phone halves it);
//! these labels sit at the same points, in percent of the plot, and keep their CSS size.

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
