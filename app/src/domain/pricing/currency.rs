//! The currencies prices can be in: ISO 4217 codes that have a minor unit (EUR, with 2
//! decimals; JPY, with none; BHD, with 3), from the `iso_currency` crate's copy of the
//! standard. Gold, funds' units and the test code have no minor unit and are refused.

/// How many decimals an amount in `code` is rounded to, if it is a currency prices can be in.
pub fn minor_units(code: &str) -> Option<u32> {
    iso_currency::Currency::from_code(code)?
        .exponent()
        .map(u32::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn currencies_round_to_their_minor_unit() {
        assert_eq!(minor_units("EUR"), Some(2));
        assert_eq!(minor_units("JPY"), Some(0));
        assert_eq!(minor_units("BHD"), Some(3));
        assert_eq!(minor_units("XAU"), None);
        assert_eq!(minor_units("eur"), None);
        assert_eq!(minor_units("EURO"), None);
        assert_eq!(minor_units("ABC"), None);
    }
}
