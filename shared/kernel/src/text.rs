//! Bounded text: trimmed, a number of characters (not bytes) between two bounds, and no control
//! characters, line breaks aside where a field allows them.
//!
//! Control characters are refused everywhere because Postgres `text` cannot hold NUL (one in a
//! title once failed as an internal error) and none belongs in a name or a message.

/// How long a field's text may be, and whether it may span lines.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Bounds {
    pub min: usize,
    pub max: usize,
    pub line_breaks: bool,
}

impl Bounds {
    /// One line of `min` to `max` characters.
    pub const fn line(min: usize, max: usize) -> Self {
        Self { min, max, line_breaks: false }
    }

    /// `min` to `max` characters, line breaks allowed.
    pub const fn lines(min: usize, max: usize) -> Self {
        Self { min, max, line_breaks: true }
    }
}

/// Why a field's text was refused; the message names the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct TextError(String);

/// `input` trimmed, if it fits `bounds`; the error names `field`.
pub fn bounded(field: &str, input: &str, bounds: Bounds) -> Result<String, TextError> {
    let text = input.trim();
    let n = text.chars().count();
    if n < bounds.min {
        return Err(TextError(if bounds.min == 1 {
            format!("{field} must not be empty")
        } else {
            format!("{field} must have at least {} characters, got {n}", bounds.min)
        }));
    }
    if n > bounds.max {
        return Err(TextError(format!("{field} must have at most {} characters, got {n}", bounds.max)));
    }
    if text.chars().any(|c| c.is_control() && !(bounds.line_breaks && c == '\n')) {
        return Err(TextError(format!("{field} must not contain control characters")));
    }
    Ok(text.to_string())
}

/// A newtype over [`bounded`] text: `parse` is the only way in, so holding one is the proof.
///
/// ```
/// tuan_kernel::text_type!(
///     /// 1 to 64 characters.
///     pub CircleName, "circle name", tuan_kernel::text::Bounds::line(1, 64));
/// assert_eq!(CircleName::parse("  Dinner ").unwrap().as_str(), "Dinner");
/// assert!(CircleName::parse("").is_err());
/// ```
#[macro_export]
macro_rules! text_type {
    ($(#[$doc:meta])* $vis:vis $name:ident, $field:literal, $bounds:expr) => {
        $(#[$doc])*
        #[derive(Clone, Debug, Default, PartialEq, Eq)]
        $vis struct $name(String);

        impl $name {
            pub const BOUNDS: $crate::text::Bounds = $bounds;
            pub const MAX_CHARS: usize = Self::BOUNDS.max;

            /// Parses the field under its usual name.
            pub fn parse(input: &str) -> Result<Self, $crate::TextError> {
                Self::parse_as($field, input)
            }

            /// Parses it under another field name (the same rules for a bill's and a
            /// collection's title).
            pub fn parse_as(field: &str, input: &str) -> Result<Self, $crate::TextError> {
                $crate::text::bounded(field, input, Self::BOUNDS).map(Self)
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }

            pub fn into_string(self) -> String {
                self.0
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trims_and_counts_characters_not_bytes() {
        assert_eq!(bounded("name", "  字字 ", Bounds::line(1, 2)).unwrap(), "字字");
        assert!(bounded("name", "字字字", Bounds::line(1, 2)).is_err());
    }

    #[test]
    fn refuses_empty_when_a_minimum_is_set() {
        assert_eq!(bounded("title", "   ", Bounds::line(1, 10)).unwrap_err().to_string(), "title must not be empty");
        assert_eq!(bounded("topic", "", Bounds::line(0, 10)).unwrap(), "");
    }

    #[test]
    fn line_breaks_only_where_allowed_and_no_other_control_character() {
        assert!(bounded("memo", "a\nb", Bounds::line(0, 10)).is_err());
        assert_eq!(bounded("description", "a\nb", Bounds::lines(0, 10)).unwrap(), "a\nb");
        for bad in ["a\0b", "a\tb", "a\u{7}b", "a\rb"] {
            assert!(bounded("description", bad, Bounds::lines(0, 10)).is_err(), "{bad:?}");
        }
    }

    crate::text_type!(
        /// For the macro's own test.
        Name, "name", Bounds::line(1, 3));

    #[test]
    fn text_types_parse_under_their_name_or_another() {
        assert_eq!(Name::parse(" ab ").unwrap().into_string(), "ab");
        assert_eq!(Name::parse("ab").unwrap().as_str(), "ab");
        assert_eq!(Name::MAX_CHARS, 3);
        assert!(Name::parse_as("title", "abcd").unwrap_err().to_string().starts_with("title "));
    }

    proptest::proptest! {
        #[test]
        fn whatever_is_accepted_fits_the_bounds(input in "\\PC{0,12}|[a\n\t\0 ]{0,12}") {
            if let Ok(text) = bounded("f", &input, Bounds::line(1, 8)) {
                proptest::prop_assert!((1..=8).contains(&text.chars().count()));
                proptest::prop_assert!(!text.chars().any(char::is_control));
                proptest::prop_assert_eq!(text.as_str(), input.trim());
            }
        }
    }
}
