//! What a workspace records about its contacts beyond what the channels tell: custom
//! attributes (defined per workspace: key, label, type, personal or not), the lifecycle
//! stage, and the contact's own email and phone as an agent typed them.
//!
//! Invariant: a value is stored only in its canonical text form, produced by
//! [`AttributeKind::parse_value`]; so a number filter compares like with like and a value that
//! does not fit its attribute's type never reaches the database.

use crate::ValidationError;

/// An attribute's type.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AttributeKind {
    Text,
    Number,
    /// A calendar date, `YYYY-MM-DD`.
    Date,
    Boolean,
    /// One of the attribute's options.
    List,
}

const MAX_TEXT: usize = 1000;
pub const MAX_OPTIONS: usize = 100;

impl AttributeKind {
    pub fn parse(raw: &str) -> Option<Self> {
        Some(match raw {
            "text" => Self::Text,
            "number" => Self::Number,
            "date" => Self::Date,
            "boolean" => Self::Boolean,
            "list" => Self::List,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Text => "text",
            Self::Number => "number",
            Self::Date => "date",
            Self::Boolean => "boolean",
            Self::List => "list",
        }
    }

    /// `raw` in its canonical stored form, or why it does not fit: numbers as Rust prints
    /// the finite `f64` (`"1.50"` is `1.5`), dates as `YYYY-MM-DD`, booleans `true`/`false`
    /// (also from `yes`/`no`/`1`/`0`, as spreadsheets write them), list values exactly as one
    /// of `options`.
    pub fn parse_value(self, raw: &str, options: &[String]) -> Result<String, ValidationError> {
        let v = raw.trim();
        let bad = |m: String| ValidationError::new("invalid_attribute_value", m);
        match self {
            Self::Text => {
                if v.chars().count() > MAX_TEXT || v.chars().any(|c| c.is_control() && c != '\n') {
                    return Err(bad(format!(
                        "A text value is at most {MAX_TEXT} characters."
                    )));
                }
                Ok(v.to_owned())
            }
            Self::Number => v
                .parse::<f64>()
                .ok()
                .filter(|n| n.is_finite())
                .map(|n| n.to_string())
                .ok_or_else(|| bad(format!("{v:?} is not a number."))),
            Self::Date => {
                let f = time::macros::format_description!("[year]-[month]-[day]");
                time::Date::parse(v, &f)
                    .ok()
                    .and_then(|d| d.format(&f).ok())
                    .ok_or_else(|| bad(format!("{v:?} is not a date written YYYY-MM-DD.")))
            }
            Self::Boolean => match v.to_ascii_lowercase().as_str() {
                "true" | "yes" | "1" => Ok("true".to_owned()),
                "false" | "no" | "0" => Ok("false".to_owned()),
                _ => Err(bad(format!("{v:?} is not true or false."))),
            },
            Self::List => options
                .iter()
                .find(|o| o.as_str() == v)
                .cloned()
                .ok_or_else(|| bad(format!("{v:?} is not one of {}.", options.join(", ")))),
        }
    }
}

/// An attribute's key: 1 to 40 of `a-z`, `0-9` and `_`, starting with a letter; it names
/// the attribute in the API, in CSV headers (`attr.<key>`) and in segment filters.
pub fn parse_key(raw: &str) -> Result<String, ValidationError> {
    let k = raw.trim();
    let ok = (1..=40).contains(&k.len())
        && k.starts_with(|c: char| c.is_ascii_lowercase())
        && k.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if ok {
        Ok(k.to_owned())
    } else {
        Err(ValidationError::new(
            "invalid_key",
            "A key is 1 to 40 lowercase letters, digits and _, starting with a letter.",
        )
        .on("key"))
    }
}

/// A list attribute's options: 1 to 100 distinct values of 1 to 100 characters.
pub fn parse_options(raw: &[String]) -> Result<Vec<String>, ValidationError> {
    let bad = || {
        ValidationError::new(
            "invalid_options",
            "A list has 1 to 100 distinct options of 1 to 100 characters.",
        )
        .on("options")
    };
    let options: Vec<String> = raw.iter().map(|o| o.trim().to_owned()).collect();
    if options.is_empty() || options.len() > MAX_OPTIONS {
        return Err(bad());
    }
    for (i, o) in options.iter().enumerate() {
        if o.is_empty() || o.chars().count() > 100 || o.chars().any(char::is_control) {
            return Err(bad());
        }
        if options.iter().take(i).any(|p| p == o) {
            return Err(bad());
        }
    }
    Ok(options)
}

/// Where a contact is in the business's relationship with them. A fixed list rather than a
/// per-workspace one: filters, segments and CSV files then mean the same in every workspace,
/// and a workspace that needs more uses a list attribute.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LifecycleStage {
    Lead,
    Qualified,
    Customer,
    Churned,
}

impl LifecycleStage {
    pub const ALL: [LifecycleStage; 4] = [
        LifecycleStage::Lead,
        LifecycleStage::Qualified,
        LifecycleStage::Customer,
        LifecycleStage::Churned,
    ];

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == raw.trim())
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Lead => "lead",
            Self::Qualified => "qualified",
            Self::Customer => "customer",
            Self::Churned => "churned",
        }
    }

    /// Parses `raw`, or the error naming the valid stages.
    pub fn parse_field(raw: &str) -> Result<Self, ValidationError> {
        Self::parse(raw).ok_or_else(|| {
            ValidationError::new(
                "invalid_stage",
                "The lifecycle stage is lead, qualified, customer or churned.",
            )
            .on("lifecycle_stage")
        })
    }
}

/// A phone number as agents type it: `+`, digits, spaces, dots, dashes and brackets, 5 to 20
/// digits; stored as `+` (when given) and digits only, so search and CSV matching agree.
pub fn parse_phone(raw: &str) -> Result<String, ValidationError> {
    let v = raw.trim();
    let digits: String = v.chars().filter(char::is_ascii_digit).collect();
    let allowed = v
        .chars()
        .enumerate()
        .all(|(i, c)| c.is_ascii_digit() || " .-()".contains(c) || (c == '+' && i == 0));
    if !allowed || !(5..=20).contains(&digits.len()) {
        return Err(ValidationError::new(
            "invalid_phone",
            "A phone number is 5 to 20 digits, optionally starting with +.",
        )
        .on("phone"));
    }
    Ok(if v.starts_with('+') {
        format!("+{digits}")
    } else {
        digits
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_stored_in_canonical_form() {
        let none: Vec<String> = Vec::new();
        assert_eq!(
            AttributeKind::Number.parse_value(" 1.50 ", &none).unwrap(),
            "1.5"
        );
        assert!(AttributeKind::Number.parse_value("NaN", &none).is_err());
        assert!(AttributeKind::Number.parse_value("ten", &none).is_err());
        assert_eq!(
            AttributeKind::Date
                .parse_value("2026-02-28", &none)
                .unwrap(),
            "2026-02-28"
        );
        assert!(
            AttributeKind::Date
                .parse_value("2026-02-30", &none)
                .is_err()
        );
        assert_eq!(
            AttributeKind::Boolean.parse_value("Yes", &none).unwrap(),
            "true"
        );
        assert!(AttributeKind::Boolean.parse_value("maybe", &none).is_err());
        let options = vec!["gold".to_owned(), "silver".to_owned()];
        assert_eq!(
            AttributeKind::List.parse_value("gold", &options).unwrap(),
            "gold"
        );
        assert!(AttributeKind::List.parse_value("bronze", &options).is_err());
    }

    #[test]
    fn keys_options_stages_and_phones_are_checked() {
        assert!(parse_key("plan_tier").is_ok());
        assert!(parse_key("Plan").is_err());
        assert!(parse_key("1plan").is_err());
        assert!(parse_options(&["a".to_owned(), "a".to_owned()]).is_err());
        assert!(parse_options(&[]).is_err());
        assert_eq!(
            LifecycleStage::parse("customer"),
            Some(LifecycleStage::Customer)
        );
        assert_eq!(LifecycleStage::parse("vip"), None);
        assert_eq!(parse_phone("+1 (650) 555-0101").unwrap(), "+16505550101");
        assert!(parse_phone("call me").is_err());
    }
}
