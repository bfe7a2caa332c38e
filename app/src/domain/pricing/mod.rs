//! What charging cost: a session's energy spread over time ([`curve`]), the tariff that
//! prices it ([`tariff`]), and the arithmetic that puts the two together ([`cost`]).

pub mod cost;
pub mod curve;
pub mod tariff;

#[cfg(test)]
mod tests;
