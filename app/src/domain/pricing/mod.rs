//! What charging cost: a session's energy spread over time ([`curve`]), the tariff that
//! prices it ([`tariff`]) in a [`currency`], and the arithmetic that puts them together
//! ([`cost`]), and the place and version that apply to a stored session ([`book`]).

pub mod book;
pub mod cost;
pub mod currency;
pub mod curve;
pub mod tariff;

#[cfg(test)]
mod tests;
