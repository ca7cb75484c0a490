//! Query-string conventions shared by the front ends: an optional
//! parameter sent empty (`?limit=`) counts as not sent.

use serde::{Deserialize, Deserializer};
use std::str::FromStr;

/// `#[serde(default, deserialize_with = "empty_as_none")]` for an optional
/// query parameter that is parsed from text: "" is `None`, anything else
/// must parse.
pub fn empty_as_none<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: FromStr,
    T::Err: std::fmt::Display,
{
    match Option::<String>::deserialize(deserializer)? {
        None => Ok(None),
        Some(text) if text.is_empty() => Ok(None),
        Some(text) => text.parse().map(Some).map_err(serde::de::Error::custom),
    }
}

#[cfg(test)]
mod tests {
    #[derive(serde::Deserialize)]
    struct Query {
        #[serde(default, deserialize_with = "super::empty_as_none")]
        limit: Option<u32>,
    }

    #[test]
    fn an_empty_parameter_is_none_and_a_bad_one_is_an_error() {
        let parse = |text: &str| serde_json::from_str::<Query>(text).map(|q| q.limit);
        assert_eq!(parse(r#"{"limit":""}"#).unwrap(), None);
        assert_eq!(parse(r#"{}"#).unwrap(), None);
        assert_eq!(parse(r#"{"limit":"7"}"#).unwrap(), Some(7));
        assert!(parse(r#"{"limit":"seven"}"#).is_err());
    }
}
