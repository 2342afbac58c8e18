//! Canned responses: reply texts a workspace's agents reuse, with variables filled in when an
//! agent picks one. Known variables: `{{contact.name}}`, `{{agent.name}}` (spaces inside the
//! braces allowed); any other `{{...}}` stays as written, so a typo shows instead of vanishing.

use crate::ValidationError;

/// What the variables stand for in one conversation.
#[derive(Debug, Clone, Default)]
pub struct Variables<'a> {
    pub contact_name: Option<&'a str>,
    pub agent_name: Option<&'a str>,
}

/// The longest canned response body.
pub const MAX_BODY: usize = 4096;

/// Checks a shortcut: 1 to 32 of `a-z`, `0-9`, `-`, `_` (what an agent types after `/`).
pub fn parse_shortcut(raw: &str) -> Result<String, ValidationError> {
    let s = raw.trim().trim_start_matches('/').to_ascii_lowercase();
    if s.is_empty()
        || s.len() > 32
        || !s
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
    {
        return Err(ValidationError::new(
            "invalid_shortcut",
            "A shortcut is 1 to 32 of a-z, 0-9, - and _.",
        )
        .on("shortcut"));
    }
    Ok(s)
}

/// Checks a body: 1 to [`MAX_BODY`] characters.
pub fn parse_body(raw: &str) -> Result<String, ValidationError> {
    if raw.trim().is_empty() || raw.chars().count() > MAX_BODY || raw.contains('\0') {
        return Err(ValidationError::new(
            "invalid_body_text",
            format!("A canned response is 1 to {MAX_BODY} characters."),
        )
        .on("body"));
    }
    Ok(raw.to_owned())
}

/// The body with its variables filled in (an unknown name left as written; a known one
/// without a value becomes empty).
pub fn render(body: &str, vars: &Variables<'_>) -> String {
    let mut out = String::with_capacity(body.len());
    let mut rest = body;
    while let Some(start) = rest.find("{{") {
        let (before, after) = rest.split_at(start);
        out.push_str(before);
        let Some(end) = after.find("}}") else {
            out.push_str(after);
            return out;
        };
        let (var, tail) = after.split_at(end + 2);
        let name = var.trim_start_matches("{{").trim_end_matches("}}").trim();
        match name {
            "contact.name" => out.push_str(vars.contact_name.unwrap_or_default()),
            "agent.name" => out.push_str(vars.agent_name.unwrap_or_default()),
            _ => out.push_str(var),
        }
        rest = tail;
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variables_are_filled_and_unknown_ones_kept() {
        let vars = Variables {
            contact_name: Some("Ada"),
            agent_name: Some("Sam"),
        };
        assert_eq!(
            render(
                "Hi {{contact.name}}, {{ agent.name }} here. {{order.id}} {{",
                &vars
            ),
            "Hi Ada, Sam here. {{order.id}} {{"
        );
        assert_eq!(
            render("Hi {{contact.name}}!", &Variables::default()),
            "Hi !"
        );
    }

    #[test]
    fn shortcuts_are_simple_words() {
        assert_eq!(parse_shortcut("/Thanks").unwrap(), "thanks");
        assert!(parse_shortcut("two words").is_err());
        assert!(parse_shortcut("").is_err());
    }
}
