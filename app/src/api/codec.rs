//! How server functions' answers travel: JSON, like Leptos's own `Json`, but read in the
//! browser from a `&str`, the way Leptos reads island props. A page's island gets its
//! first data as props and the same types again from its server function; read one way,
//! each type's JSON reader is compiled into the WASM once instead of twice (once over
//! bytes, once over text), which keeps the browser code smaller (docs/PERFORMANCE.md).

use leptos::server_fn::codec::Post;
use leptos::server_fn::{Bytes, ContentType, Decodes, Encodes, Format, FormatType};
use serde::de::{DeserializeOwned, Error as _};
use serde::Serialize;

/// The JSON encoding of server functions' answers (and their errors).
pub struct JsonText;

impl ContentType for JsonText {
    const CONTENT_TYPE: &'static str = "application/json";
}

impl FormatType for JsonText {
    const FORMAT_TYPE: Format = Format::Text;
}

impl<T: Serialize> Encodes<T> for JsonText {
    type Error = serde_json::Error;

    fn encode(output: &T) -> Result<Bytes, Self::Error> {
        serde_json::to_vec(output).map(Bytes::from)
    }
}

impl<T: DeserializeOwned> Decodes<T> for JsonText {
    type Error = serde_json::Error;

    fn decode(bytes: Bytes) -> Result<T, Self::Error> {
        let text = std::str::from_utf8(&bytes).map_err(serde_json::Error::custom)?;
        serde_json::from_str(text)
    }
}

/// A server function's answer as JSON: `#[server(output = Json)]`.
pub type Json = Post<JsonText>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_read_back_as_they_were_written() {
        let value = vec![("a".to_owned(), 1.5_f64), ("ü".to_owned(), -2.0)];
        let bytes = <JsonText as Encodes<_>>::encode(&value).unwrap();
        let back: Vec<(String, f64)> = <JsonText as Decodes<_>>::decode(bytes).unwrap();
        assert_eq!(back, value);
    }

    #[test]
    fn bytes_that_are_not_text_are_an_error() {
        let bad = Bytes::from_static(b"\"\xff\"");
        let answer: Result<String, _> = <JsonText as Decodes<_>>::decode(bad);
        assert!(answer.is_err());
    }
}
