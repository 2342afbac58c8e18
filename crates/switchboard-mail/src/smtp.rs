//! Delivery through an SMTP server named by a URL, with lettre on tokio.
//!
//! `smtp://[user:pass@]host[:port]` talks plain SMTP (port 25), for a relay on the same
//! machine or a test sink; `smtp+starttls://` upgrades with STARTTLS and refuses to go on
//! without it (port 587); `smtps://` speaks TLS from the first byte (port 465). The
//! credentials are kept in the transport only: `Debug` and every error name the host, never
//! the user or password.

use crate::{Email, MailError, Mailer};
use lettre::message::Mailbox;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use secrecy::{ExposeSecret, SecretString};
use std::fmt;
use std::time::Duration;

/// How the connection to the SMTP server is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpSecurity {
    /// No TLS at all: only for a relay on the same machine or network, or a test sink.
    Plain,
    /// STARTTLS required.
    StartTls,
    /// Implicit TLS (SMTPS).
    Tls,
}

/// Sends each email over a fresh SMTP session.
#[derive(Clone)]
pub struct SmtpMailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    host: String,
    port: u16,
    security: SmtpSecurity,
}

impl fmt::Debug for SmtpMailer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SmtpMailer")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("security", &self.security)
            .field("from", &self.from.email.to_string())
            .finish_non_exhaustive()
    }
}

impl SmtpMailer {
    /// Builds a mailer from an SMTP URL and the `From` address (`Name <addr>` or `addr`).
    /// Nothing is sent and no connection is made until the first email.
    pub fn from_url(url: &SecretString, from: &str) -> Result<Self, MailError> {
        let config = |reason: &str| MailError::Config(format!("SMTP URL: {reason}"));
        // The URL carries the password: parse errors must not echo it.
        let parsed = url::Url::parse(url.expose_secret()).map_err(|_| config("not a valid URL"))?;
        let security = match parsed.scheme() {
            "smtp" => SmtpSecurity::Plain,
            "smtp+starttls" => SmtpSecurity::StartTls,
            "smtps" => SmtpSecurity::Tls,
            _ => {
                return Err(config(
                    "the scheme must be smtp://, smtp+starttls:// or smtps://",
                ));
            }
        };
        let host = parsed
            .host_str()
            .filter(|h| !h.is_empty())
            .ok_or_else(|| config("a host is required"))?
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();
        let port = parsed.port().unwrap_or(match security {
            SmtpSecurity::Plain => 25,
            SmtpSecurity::StartTls => 587,
            SmtpSecurity::Tls => 465,
        });
        let from: Mailbox = from
            .parse()
            .map_err(|_| MailError::Config("the sender (from) address is not valid".into()))?;
        let tls = |host: &str| {
            TlsParameters::new(host.to_owned())
                .map_err(|_| MailError::Config("SMTP TLS could not be set up".into()))
        };
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host.clone())
            .port(port)
            // A stuck server must not hold a worker past its job lease.
            .timeout(Some(Duration::from_secs(30)))
            .tls(match security {
                SmtpSecurity::Plain => Tls::None,
                SmtpSecurity::StartTls => Tls::Required(tls(&host)?),
                SmtpSecurity::Tls => Tls::Wrapper(tls(&host)?),
            });
        if !parsed.username().is_empty() {
            let decode = |raw: &str| {
                percent_decode(raw).ok_or_else(|| config("the user or password is not valid"))
            };
            let user = decode(parsed.username())?;
            let password = decode(parsed.password().unwrap_or_default())?;
            builder = builder.credentials(Credentials::new(user, password));
        }
        Ok(Self {
            transport: builder.build(),
            from,
            host,
            port,
            security,
        })
    }
}

/// Percent-decodes a URL's user or password (`p%40ss` is `p@ss`).
fn percent_decode(raw: &str) -> Option<String> {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b == b'%' {
            let hex = raw.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[async_trait::async_trait]
impl Mailer for SmtpMailer {
    async fn send(&self, email: &Email) -> Result<(), MailError> {
        let to: Mailbox = email.to.parse().map_err(|_| MailError::BadAddress)?;
        let message = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(email.subject.as_str())
            .body(email.text.clone())
            .map_err(|_| MailError::BadAddress)?;
        match self.transport.send(message).await {
            Ok(_) => Ok(()),
            // 5xx: the server will never take this message; retrying only repeats the answer.
            // A client error (an address this server cannot carry) is as final.
            Err(e) if e.is_permanent() || e.is_client() => Err(MailError::Rejected(describe(&e))),
            // 4xx, timeouts, refused connections, TLS hiccups: worth another attempt.
            Err(e) => Err(MailError::Transport(describe(&e))),
        }
    }
}

/// What went wrong, without the server's own words: replies often quote the recipient
/// (`550 <ada@example.com>: user unknown`), and these messages reach logs and the job's
/// `last_error`, where personal data must not land.
fn describe(e: &lettre::transport::smtp::Error) -> String {
    match e.status() {
        Some(code) if e.is_permanent() => format!("the SMTP server refused the message ({code})"),
        Some(code) => format!("the SMTP server deferred the message ({code})"),
        None if e.is_response() => "the SMTP server sent an unreadable reply".to_owned(),
        // Connection, TLS and client errors carry no message content.
        None => e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mailer(url: &str) -> Result<SmtpMailer, MailError> {
        SmtpMailer::from_url(
            &SecretString::from(url),
            "Switchboard <noreply@example.com>",
        )
    }

    #[test]
    fn urls_choose_security_and_default_ports() {
        let m = mailer("smtp://localhost").unwrap();
        assert_eq!((m.port, m.security), (25, SmtpSecurity::Plain));
        let m = mailer("smtp+starttls://mail.example.com").unwrap();
        assert_eq!((m.port, m.security), (587, SmtpSecurity::StartTls));
        let m = mailer("smtps://u:p@mail.example.com:2465").unwrap();
        assert_eq!((m.port, m.security), (2465, SmtpSecurity::Tls));
    }

    #[test]
    fn bad_urls_are_refused_without_echoing_secrets() {
        for url in [
            "http://u:hunter2@mail.example.com",
            "smtp://u:hunter2@",
            "not a url hunter2",
            "smtp://u:%zzhunter2@mail.example.com",
        ] {
            let err = mailer(url).unwrap_err();
            assert!(matches!(err, MailError::Config(_)), "{url}: {err}");
            assert!(!err.to_string().contains("hunter2"), "{err}");
        }
        assert!(matches!(
            SmtpMailer::from_url(&SecretString::from("smtp://localhost"), "not an address"),
            Err(MailError::Config(_))
        ));
    }

    #[test]
    fn debug_never_shows_credentials() {
        let m = mailer("smtps://alice:s3cr%40t@mail.example.com").unwrap();
        let shown = format!("{m:?}");
        assert!(shown.contains("mail.example.com"), "{shown}");
        assert!(
            !shown.contains("alice") && !shown.contains("s3cr"),
            "{shown}"
        );
    }

    #[test]
    fn percent_decoding() {
        assert_eq!(percent_decode("p%40ss%2F").as_deref(), Some("p@ss/"));
        assert_eq!(percent_decode("%4"), None);
    }
}
